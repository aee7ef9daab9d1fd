#!/usr/bin/env bash
# Runs a command with CPUID masked to an AVX2 CPU's (bench/avx2-proxy/cpuid-avx2.c): electra-ts, OpenBLAS and
# onnxruntime all pick their AVX2 kernels, so that on an AVX-512 machine their AVX2 paths can be compared in one
# run (a proxy for an AVX2 machine, BENCHMARKS.md says how close). Needs gcc and a CPU with the cpuid_fault flag.
#   bash bench/as-avx2.sh bash bench/infer-vs-ort.sh ORT_DIR 7 2
set -euo pipefail
[ $# -gt 0 ] || { echo "usage: bash bench/as-avx2.sh COMMAND [ARGS...]" >&2; exit 2; }
here=$(cd "$(dirname "$0")" && pwd)
grep -qw cpuid_fault /proc/cpuinfo || { echo "as-avx2: this CPU (or its hypervisor) has no CPUID faulting (cpuid_fault)" >&2; exit 1; }
lib=$here/../build/cpuid-avx2.so
mkdir -p "$(dirname "$lib")"
if ! [ "$lib" -nt "$here/avx2-proxy/cpuid-avx2.c" ]; then
  tmp=$(mktemp "$lib.XXXXXX")
  gcc -O2 -Wall -shared -fPIC -o "$tmp" "$here/avx2-proxy/cpuid-avx2.c" -ldl && mv "$tmp" "$lib"
fi
LD_PRELOAD=$lib${LD_PRELOAD:+:$LD_PRELOAD} exec "$@"
