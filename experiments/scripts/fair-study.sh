#!/usr/bin/env bash
# Issue 15's studies in order, resumably: start it again after an interruption and finished runs are read back.
# The tuned scaling study first (the mechanism, damping and stability studies use its choices), then the long-tailed study.
# fmnist-fair-stability is a post-hoc check declared after the scaling seeds had finished; it decides no verdict.
# Results: experiments/results/fmnist-fair-*/ and fmnist-fair-claims.md (tables, figures, every run's config/summary/metrics, invocations.md with
# commit, machine and wall time). Planned size on 2 cores: see README "Fair study".
set -euo pipefail
cd "$(dirname "$0")/../.."
for s in fmnist-fair-scaling fmnist-fair-mechanism fmnist-fair-damping fmnist-fair-stability fmnist-fair-long-tailed; do
  ./fop study "experiments/studies/$s.json" "$@"
done
# The paper's claims, a verdict per cell from the scaling, damping and long-tailed results (the stability check reported beside them, no verdict): experiments/results/fmnist-fair-claims.md.
./fop claims
