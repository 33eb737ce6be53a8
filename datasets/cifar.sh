#!/usr/bin/env bash
# Download CIFAR-10 and/or CIFAR-100 (binary versions) into datasets/ and verify the publisher's MD5.
# Usage: bash datasets/cifar.sh [10|100|all]
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
get() {
  local name=$1 md5=$2 folder=$3
  if [ -d "$here/$folder" ]; then echo "$folder already present"; return; fi
  curl -fL --retry 3 -o "$here/$name" "https://www.cs.toronto.edu/~kriz/$name"
  echo "$md5  $here/$name" | md5sum -c -
  tar -xzf "$here/$name" -C "$here" && rm "$here/$name"
  echo "CIFAR ready in $here/$folder"
}
case "${1:-all}" in
  10) get cifar-10-binary.tar.gz c32a1d4ab5d03f1284b67883e8d87530 cifar-10-batches-bin ;;
  100) get cifar-100-binary.tar.gz 03b5dce01913d631647c71ecec9e9cb8 cifar-100-binary ;;
  all) "$0" 10; "$0" 100 ;;
  *) echo "usage: $0 [10|100|all]" >&2; exit 2 ;;
esac
