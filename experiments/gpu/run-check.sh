#!/usr/bin/env bash
# On a machine with an NVIDIA GPU and Python's PyTorch (no .NET needed): unpack the bundle made by bundle.sh, run the
# device checks (`fop gpu-check`), the interleaved benchmark of CIFAR ResNet-18 at batch 512, 2048 and 8192 (SGD, AdamW,
# KFAC, FOP), peak GPU memory per optimizer at batch 2048, one SGD/KFAC/FOP step case compared with the independent PyTorch
# reference (experiments/gpu/pytorch_reference.py --compare), and that reference timing SGD, KFAC and FOP whole steps at
# the same shapes; writes everything and table.md to the results folder. About 8 minutes on an H200 before the reference
# covered KFAC and FOP, which adds an estimated 3 (not yet measured on a GPU).
#   bash experiments/gpu/run-check.sh [bundle (.gpu/fop-gpu.tar.xz)] [results dir ($OUT or gpu-results)]
set -uo pipefail
cd "$(dirname "$0")/../.."
bundle=${1:-.gpu/fop-gpu.tar.xz}
out=${2:-${OUT:-gpu-results}}
mkdir -p "$out" /tmp/fop-gpu
tar -xJf "$bundle" -C /tmp/fop-gpu || { echo "cannot unpack $bundle (run experiments/gpu/bundle.sh first)"; exit 2; }
torchlib=$(python3 -c "import torch, os; print(os.path.join(os.path.dirname(torch.__file__), 'lib'))") || { echo "python3 with torch is needed"; exit 2; }
export LD_LIBRARY_PATH="$torchlib:${LD_LIBRARY_PATH:-}"
export GLIBC_TUNABLES=glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184
# fop refuses a libtorch of another major.minor than TorchSharp 0.107's 2.10 (Platform/LibtorchVersion); the GPU machines
# seen here carry PyTorch 2.11. Tried anyway: the native layer must still link with every symbol resolved, and the torch
# version goes into the table, so a result says what it ran on.
export FOP_ALLOW_LIBTORCH_MISMATCH=1
fop=/tmp/fop-gpu/fop
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$out/gpu.txt"
python3 -c "import torch; print(f'torch {torch.__version__}, CUDA {torch.version.cuda}')" | tee -a "$out/gpu.txt"
status=0
"$fop" gpu-check --device cuda --work /tmp/fop-gpu-work 2>&1 | tee "$out/gpu-check.txt" || status=1
for b in 512 2048 8192; do
  # Whole steps, one synchronise per optimizer's run of steps (as the PyTorch reference times), with each step's waits counted.
  "$fop" bench --device cuda --model resnet18 --data random --batch $b --rounds 3 --interval 10 --whole-steps \
    --optimizers sgd,adamw,kfac,fop --json "$out/bench-resnet18-b$b.json" 2>&1 | tee -a "$out/bench.txt" || status=1
done
# Peak memory: one process per optimizer, sampled by nvidia-smi (whole device, so the CUDA context is included).
for o in sgd adamw kfac fop; do
  nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 100 > "/tmp/mem-$o.log" &
  sampler=$!
  "$fop" bench --device cuda --model resnet18 --data random --batch 2048 --rounds 3 --interval 5 --whole-steps --optimizers $o > "/tmp/bench-mem-$o.txt" 2>&1 || status=1
  kill $sampler; wait $sampler 2>/dev/null
  echo "$o $(sort -n "/tmp/mem-$o.log" | tail -1)" >> "$out/memory-b2048.txt"
done
# One step case: two steps each of SGD, KFAC and FOP from the same weights and batches, written by the bundled fop on the
# GPU in float32 (TF32 off, empirical Fisher, every conv position: no random draws), replayed by the independent PyTorch
# KFAC/FOP there (it also replays in float64 to set the float32 tolerance).
rm -rf /tmp/fop-reference-case
"$fop" reference-step --device cuda --model resnet18 --batch 64 --steps 2 --dtype float32 --out /tmp/fop-reference-case 2>&1 | tee "$out/reference-step.txt" || status=1
PYTHONUNBUFFERED=1 python3 experiments/gpu/pytorch_reference.py --compare /tmp/fop-reference-case --device cuda --json "$out/reference-compare.json" 2>&1 \
  | tee -a "$out/reference-step.txt" || status=1
# SGD, KFAC and FOP whole steps in PyTorch at the bench's shapes and settings, one synchronise per round.
PYTHONUNBUFFERED=1 python3 experiments/gpu/pytorch_reference.py --batches 512 2048 8192 --optimizers sgd,kfac,fop --json "$out/pytorch.json" 2>&1 | tee "$out/pytorch.txt" || status=1
python3 experiments/gpu/table.py "$out" > "$out/table.md" && cat "$out/table.md"
exit $status
