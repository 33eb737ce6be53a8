#!/usr/bin/env bash
# The committed landscape, sharpness, gradient-noise and FOP-internals figures of experiments/results/visualizers/:
# the small CNN trained at batch 4096 with SGD, KFAC and FOP (10 epochs, noise measured every 3rd step), then
# `fop landscape` around the three solutions and `fop report` on the runs. Resumable: re-running skips finished runs.
set -euo pipefail
cd "$(dirname "$0")/../.."
runs=runs/visualizers/b4096
out=experiments/results/visualizers
for opt in sgd kfac fop; do
  if [ ! -f "$runs/fmnist-smallcnn-$opt-b4096/summary.json" ]; then
    ./fop train --config "experiments/configs/fashion-mnist/smallcnn-$opt-b4096.json" --out "$runs" \
      --set epochs=10 --set noise_interval=3 --set checkpoint_every_steps=5 --resume
  fi
done
./fop report "$runs" --out "$out/training" --target 0.88
./fop landscape --config experiments/configs/fashion-mnist/smallcnn-fop-b4096.json \
  --checkpoint sgd="$runs/fmnist-smallcnn-sgd-b4096/checkpoint.bin" \
  --checkpoint kfac="$runs/fmnist-smallcnn-kfac-b4096/checkpoint.bin" \
  --checkpoint fop="$runs/fmnist-smallcnn-fop-b4096/checkpoint.bin" \
  --grid 11 --subset 1000 --figures "$out/landscape"
