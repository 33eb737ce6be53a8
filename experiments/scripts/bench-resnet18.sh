#!/usr/bin/env bash
# Issue 14's ResNet-18 rows: the interleaved bench of CIFAR ResNet-18 (random batches: CIFAR is not on this machine) at
# batch 256 (and 1024 with BATCHES="256 1024"), SGD, KFAC and FOP, full factor statistics and the cheap switches (factor_examples = batch / 8,
# conv_positions 64), curvature and inverses every 4 steps, 3 rounds. Batch 256 took ~30 minutes on 2 cores; run it alone.
# Above batch 256 every optimizer runs in micro-batches of 256: unchunked, KFAC at batch 1024 exceeded the 24 GB here
# (killed by the kernel, 2026-11-29), since the captured activations and output gradients of the whole batch are held at once.
set -euo pipefail
cd "$(dirname "$0")/../.."
out=experiments/results/bench
for b in ${BATCHES:-256}; do
  micro=(); [ "$b" -gt 256 ] && micro=(--micro-batch 256)
  ./fop bench --model resnet18 --data random --batch $b "${micro[@]}" --optimizers sgd,kfac,fop --rounds 3 --interval 4 \
    --json $out/resnet18-b$b-full.json
  ./fop bench --model resnet18 --data random --batch $b "${micro[@]}" --optimizers sgd,kfac,fop --rounds 3 --interval 4 \
    --set kfac.factor_examples=$((b / 8)) --set kfac.conv_positions=64 --json $out/resnet18-b$b-cheap.json
done
