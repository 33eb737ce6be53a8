#!/usr/bin/env bash
# Per-step cost of SGD, AdamW, KFAC and FOP on the fair study's MLP at its three large batches (issue 15), interleaved on
# one quiet machine: the cross-check of the seconds per epoch that `./fop claims` takes from the study's own runs.
# Same settings as the study's configs: curvature and inverses every 5 steps, the full batch in two chunks of 27,500.
# JSON: experiments/results/bench/fair-mlp-b<batch>.json. About 6 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
for b in ${BATCHES:-8192 27500 55000}; do
  micro=()
  [ "$b" -gt 27500 ] && micro=(--micro-batch 27500)
  ./fop bench --model mlp --batch "$b" "${micro[@]}" --rounds 3 --interval 5 --lr 0.001 --damping 0.001 \
    --json "experiments/results/bench/fair-mlp-b$b.json"
done
