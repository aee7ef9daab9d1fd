#!/usr/bin/env bash
# Builds the prebuilt addon that `npm pack` puts into the package (run by the prepack script):
# prebuilds/linux-x64/electra-ts.napi.glibc.node (Node-API 8: one binary for Node 20 and later), with the
# shared libraries it needs that a bare Debian/Ubuntu with Node lacks copied beside it: OpenBLAS (Debian's
# DYNAMIC_ARCH build, which picks its kernels by CPU at run time), libgomp, libgfortran and libquadmath.
# The addon's DT_RPATH starts with $ORIGIN (binding.gyp), so it loads those copies; glibc, libstdc++ and
# libgcc_s come from the system (Node itself needs them).
set -euo pipefail
cd "$(dirname "$0")/.."
node_prefix=$(dirname "$(dirname "$(readlink -f "$(command -v node)")")")
if [ -z "${npm_config_nodedir:-}" ] && [ -f "$node_prefix/include/node/node_api.h" ]; then export npm_config_nodedir="$node_prefix"; fi
rm -rf prebuilds
# the package ships electra_native alone (the MPI addon links the machine's libmpi: built from source, setup.sh --mpi)
export ELECTRA_NO_MPI=1
npx prebuildify --napi --strip --tag-libc
dir=prebuilds/linux-x64
addon=$(ls "$dir"/*.node)
# the libraries to ship: every dependency, and their dependencies, that is not part of glibc/libstdc++/libgcc
ship() {
  ldd "$1" | awk '/=>/ {print $1, $3}' | while read -r name path; do
    case "$name" in
      libc.so*|libm.so*|libdl.so*|libpthread.so*|librt.so*|ld-linux*|libstdc++.so*|libgcc_s.so*) ;;
      *) if [ ! -e "$dir/$name" ]; then cp -L "$path" "$dir/$name"; ship "$dir/$name"; fi ;;
    esac
  done
}
ship "$addon"
echo "prebuild: $(ls "$dir" | tr '\n' ' ')"
readelf -d "$addon" | grep -q 'RPATH.*\$ORIGIN' || { echo "prebuild: $addon has no \$ORIGIN rpath" >&2; exit 1; }
# prebuildify moves the build's addon into prebuilds/: put it back, so that this checkout keeps its own build
mkdir -p build/Release && cp "$addon" build/Release/electra_native.node
