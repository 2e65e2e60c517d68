#!/usr/bin/env bash
# Installs everything Flotilla's build, tests and quickstart need, from Debian 12's apt
# repositories only. Idempotent: re-running it installs nothing new.
# FLOTILLA_SLURM=1 also installs Slurm (slurmctld, slurmd, slurm-client, munge) for
# scripts/slurm/test-cluster.sh; their services are not started (the test runs its own).
set -euo pipefail

PACKAGES=(
  build-essential cmake ninja-build ccache pkg-config git
  libtorch-dev                       # LibTorch 1.13 (CPU)
  libopenblas0-openmp                # optimised BLAS for LibTorch (Debian defaults to reference BLAS: 25x slower GEMM); OpenMP build shares LibTorch's thread pool
  libopenmpi-dev openmpi-bin         # MPI
  libmetis-dev metis                 # METIS library (baseline) and gpmetis
  libboost-graph-dev                 # Boost.Graph (connected components etc.)
  libcxxopts-dev                     # command-line parsing
  libgtest-dev googletest            # tests
  zlib1g-dev                         # gzipped OGB CSVs
  clang libclang-rt-14-dev           # libFuzzer targets and sanitizer runtime
  python3 python3-numpy python3-matplotlib  # plots and .npy cross-checks
  time                               # /usr/bin/time -v: peak RSS in the benchmarks
)

# Opt-in: a Slurm controller, node daemon and munge for scripts/slurm/test-cluster.sh (the CTest
# `slow` test slurm_cluster_test; 6 packages, ~20 s). Not part of the default install or CI.
if [ "${FLOTILLA_SLURM:-0}" = 1 ]; then
  PACKAGES+=(slurmctld slurmd slurm-client munge)
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo"; else
    echo "install-deps: not root and no sudo; install as root: ${PACKAGES[*]}" >&2; exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi

echo "install-deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" </dev/null
echo "install-deps: done"
