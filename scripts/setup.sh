#!/usr/bin/env bash
# Installs the Debian packages LatentKit builds and runs with (OpenCL ICD loader and headers, CLBlast, PoCL as
# an OpenCL device that runs anywhere, Oclgrind to check kernels as a GPU would run them, OpenBLAS, zlib, Fashion-MNIST,
# strip and xz for the device bundle, Open MPI and MPICH for data-parallel runs, iproute2 for the multi-node check's
# network namespaces), then fetches MNIST into data/mnist.
# Safe to run again: it installs and fetches only what is missing.
set -euo pipefail

packages=(ocl-icd-opencl-dev opencl-headers libclblast-dev pocl-opencl-icd oclgrind libopenblas-dev zlib1g-dev dataset-fashion-mnist python3-pip python3-numpy
          binutils xz-utils openmpi-bin libopenmpi-dev mpich iproute2)
missing=()
for p in "${packages[@]}"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
    sudo=""
    [ "$(id -u)" -ne 0 ] && sudo=sudo
    echo "setup: installing ${missing[*]}"
    $sudo apt-get update -qq
    DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}"
fi

python3 "$(dirname "$0")/fetch_mnist.py"
