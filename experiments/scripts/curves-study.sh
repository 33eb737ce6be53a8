#!/usr/bin/env bash
# The fair study's third pass (rate curves), in order, resumably: start it again after an interruption and finished runs are
# read back (an interrupted run resumes from its checkpoint); runs of the fair study with the same settings are copied, not
# trained again. Then `fop curves` writes experiments/results/fmnist-curves-claims.md and the figures.
#
# Pinned to one core with one torch thread, so the other core stays free for other work. The claims compare time as steps x
# the interleaved bench's cost per step (experiments/results/bench/fair-mlp-b*.json), never the runs' own wall clock, so
# running on one thread changes no comparison.
#
# Size (estimated from this machine's costs: MLP ms/step SGD/AdamW/KFAC/FOP ~128/131/178/201 at batch 8192 and
# 840/883/1064/1089 at 55,000 on 2 threads, x2.2 on one thread as measured here (FOP 441 ms/step at 8192); KFAC/FOP 60/119 ms
# at 512 and 142/176 at 2048 on one thread; the BatchNorm CNN ~1.9 ms per image per KFAC/FOP step on one thread; all
# measured with the other core busy, so the estimate leans high):
#   fmnist-curves-b8192      45 runs, 43 to train (2 reused)    ~3.3 h  (100 epochs x 7 steps; AdamW ~4, KFAC ~5.4, FOP ~5.8 min a run)
#   fmnist-curves-b55000     39 runs, 16 to train (23 reused)   ~0.9 h  (100 steps; ~3.5-4.5 min a run, diverging ones ~2)
#   fmnist-curves-mechanism  18 runs                            ~1.0 h  (512 and 2048 for 20 epochs, 27,500 for 100)
#   fmnist-curves-cnn        16 runs                            ~2.0 h  (8 at batch 4096 for 4 epochs, 8 at full batch of 8,192 for 20)
#   total                    118 runs, 93 to train              ~7.2 h on one core
# Run: bash experiments/scripts/curves-study.sh [--set KEY=VALUE ...]
set -euo pipefail
cd "$(dirname "$0")/../.."
for s in fmnist-curves-b8192 fmnist-curves-b55000 fmnist-curves-mechanism fmnist-curves-cnn; do
  taskset -c 1 ./fop study "experiments/studies/$s.json" --set threads=1 "$@"
done
# Cross-fitted and matched-rate claims with Holm over the declared family, the replication, the mechanism table, the figures.
./fop curves
