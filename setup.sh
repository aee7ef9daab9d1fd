#!/usr/bin/env bash
# electra-ts set-up: system packages (OpenBLAS with OpenMP, a C++ toolchain for node-gyp), the npm
# dependencies, the native addon and the TypeScript build; then, unless --no-demo, the built-in demo.
#   bash setup.sh            # as root: apt-installs what is missing; otherwise prints the exact command
#   bash setup.sh --no-demo  # install and build only
#   bash setup.sh --mpi      # also Open MPI (openmpi-bin, libopenmpi-dev), for data-parallel training under
#                            # mpirun: the build then adds the second addon, build/Release/electra_mpi.node
set -euo pipefail
cd "$(dirname "$0")"

demo=1
mpi=0
for a in "$@"; do
  case "$a" in
    --no-demo) demo=0 ;;
    --mpi) mpi=1 ;;
    *) echo "setup.sh: unknown option $a (use --no-demo, --mpi)" >&2; exit 2 ;;
  esac
done

# libopenblas-openmp-dev: the OpenMP build of OpenBLAS, so that sgemm called inside our OpenMP loops stays
# single-threaded instead of oversubscribing the cores (see binding.gyp). python3, make, g++: node-gyp.
packages="libopenblas-openmp-dev libopenblas-dev g++ make python3"
# Open MPI: mpirun and mpicc (binding.gyp builds electra_mpi only where mpicc is)
if [ "$mpi" = 1 ]; then packages="$packages openmpi-bin libopenmpi-dev"; fi
missing=""
for p in $packages; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
if [ -n "$missing" ]; then
  if [ "$(id -u)" = "0" ]; then
    echo "setup.sh: installing$missing"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    apt-get install -y -q --no-install-recommends $missing
  else
    echo "setup.sh: missing system packages:$missing" >&2
    echo "run:  sudo apt-get update && sudo apt-get install -y$missing" >&2
    echo "then run this script again." >&2
    exit 1
  fi
fi

node_major=$(node -p 'process.versions.node.split(".")[0]')
if [ "$node_major" -lt 20 ]; then
  echo "setup.sh: Node $node_major found, electra-ts needs Node 20 or newer" >&2
  exit 1
fi

# node-gyp needs Node's headers: use the installed ones when Node ships them (Debian/Ubuntu packages and
# the official tarballs do) instead of downloading them, so the build also works offline
node_prefix=$(node -p 'require("path").resolve(process.execPath, "..", "..")')
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then
  export npm_config_nodedir="$node_prefix"
fi

# npm ci: the exact versions of package-lock.json; its install step builds the addon from source (node-gyp,
# scripts/install.mjs: a clone has no prebuilds/); then the TypeScript
npm ci --no-audit --no-fund
npm run build --silent

if [ "$demo" = 1 ]; then
  node dist/src/cli/main.js demo --overwrite
fi
