#!/usr/bin/env bash
# Here (a machine with the .NET SDK): publish `fop` self-contained for linux-x64 against TorchSharp alone, so that on the
# GPU machine it loads that machine's own libtorch (Python's torch/lib), and pack it as .gpu/fop-gpu.tar.xz (~35 MB).
# Then on a machine with an NVIDIA GPU and PyTorch but no .NET: bash experiments/gpu/run-check.sh .gpu/fop-gpu.tar.xz <results dir>
set -euo pipefail
cd "$(dirname "$0")/../.."
rm -rf .gpu/publish
dotnet publish experiments/Fop.Cli -c Release -r linux-x64 --self-contained -p:FopLibtorch=system \
  -p:ArtifactsPath="$PWD/.gpu/artifacts" -o .gpu/publish -nologo -v q
tar -cJf .gpu/fop-gpu.tar.xz -C .gpu/publish .
ls -l .gpu/fop-gpu.tar.xz
