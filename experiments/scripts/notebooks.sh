#!/usr/bin/env bash
# Executes notebooks the way a user runs them: the packages from `dotnet pack -c Release`, the real .NET Interactive kernel
# (dotnet tool Microsoft.dotnet-interactive) under Jupyter's nbconvert, outputs written back into the notebooks.
#   experiments/scripts/notebooks.sh [notebooks/NN-name.ipynb ...]   (default: all; FOP_NOTEBOOK_SIZE=full unless set)
# Needs once: apt-get install -y jupyter-nbconvert jupyter-client python3-nbformat python3-nbclient;
# dotnet tool install -g Microsoft.dotnet-interactive --version 1.0.712001 && dotnet interactive jupyter install.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$PATH:$HOME/.dotnet/tools"
export FOP_NOTEBOOK_SIZE="${FOP_NOTEBOOK_SIZE:-full}"
# The kernel restores packages with MSBuild, which reads this from the environment: the fresh pack is found without a
# change to NuGet's configuration.
export RestoreAdditionalProjectSources="$PWD/artifacts/package"
export GLIBC_TUNABLES="${GLIBC_TUNABLES:-glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=17179869184}"
dotnet pack -c Release -nologo -v q
# The kernel restores Fop.Research 0.1.0 from the NuGet cache once it is there: drop the cached copy so this pack is used.
cache="${NUGET_PACKAGES:-$HOME/.nuget/packages}"
rm -rf "$cache/fop.research" "$cache/fop.research.plots"
notebooks=("$@")
[ ${#notebooks[@]} -gt 0 ] || notebooks=(notebooks/*.ipynb)
for nb in "${notebooks[@]}"; do
  echo "== $nb ($FOP_NOTEBOOK_SIZE)"
  log=$(mktemp)
  if ! jupyter nbconvert --to notebook --execute --inplace --ExecutePreprocessor.kernel_name=.net-csharp \
      --ExecutePreprocessor.timeout=7200 "$nb" >"$log" 2>&1; then
    grep -v '^   at ' "$log" | tail -25; echo "failed: $nb (left unchanged)" >&2; exit 1
  fi
  # Say in the notebook how its outputs were made.
  /usr/bin/python3 - "$nb" <<PY
import sys, json, datetime
path = sys.argv[1]
nb = json.load(open(path))
nb["metadata"]["fop_outputs"] = "executed by jupyter nbconvert in the .NET Interactive kernel at size '$FOP_NOTEBOOK_SIZE' on $(nproc) CPU cores, " + datetime.date.today().isoformat()
json.dump(nb, open(path, "w"), indent=1, ensure_ascii=False)
open(path, "a").write("\n")
PY
done
