#!/usr/bin/env bash
# Issue 16's benchmark: interleaved step time and time inside collectives of data-parallel SGD, KFAC and FOP on 1, 2
# and 4 ranks (threads per rank = cores / ranks, at least 1), small CNN (Fashion-MNIST batches) and CIFAR ResNet-18
# (random batches; cheap curvature switches as in issue 14). JSON per run in experiments/results/bench/distributed/,
# then table.md. Run it alone: ~15 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
out=experiments/results/bench/distributed
mkdir -p "$out"
cores=$(nproc)
./fop --help >/dev/null    # build once, before mpirun starts several copies
run() {
  local model=$1 batch=$2 ranks=$3; shift 3
  local threads=$(( cores / ranks )); [ "$threads" -ge 1 ] || threads=1
  local cmd=(./fop bench --model "$model" --batch "$batch" --threads "$threads" --optimizers sgd,kfac,fop --rounds 3 --intervals 1 "$@" --json "$out/$model-b$batch-r$ranks.json")
  if [ "$ranks" = 1 ]; then "${cmd[@]}"; else mpirun -np "$ranks" --oversubscribe --bind-to none "${cmd[@]}"; fi
}
for r in 1 2 4; do run smallcnn 1024 "$r" --interval 4; done
for r in 1 2 4; do run resnet18 128 "$r" --data random --interval 2 --set kfac.factor_examples=16 --set kfac.conv_positions=64; done
python3 experiments/scripts/distributed-table.py "$out" > "$out/table.md"
cat "$out/table.md"
