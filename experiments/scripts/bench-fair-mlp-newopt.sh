#!/usr/bin/env bash
# Per-step cost of FOP beside Shampoo, SOAP and Muon on the fair study's MLP at batch 8192 (issue 30), interleaved on one
# quiet machine: the cost per step that `./fop curves` multiplies their steps by in the second family (FOP against each at
# cross-fitted rates). Same settings as experiments/results/bench/fair-mlp-b8192.json (curvature and inverses every 5 steps
# for FOP; Shampoo, SOAP and Muon at their defaults, as their curve runs are). JSON:
# experiments/results/bench/fair-mlp-b8192-newopt.json. About 3 minutes on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../.."
./fop bench --model mlp --batch 8192 --optimizers fop,shampoo,soap,muon --rounds 3 --interval 10 --lr 0.001 --damping 0.001 \
  --set kfac.curvature_interval=5 --set kfac.inverse_interval=5 --json experiments/results/bench/fair-mlp-b8192-newopt.json
