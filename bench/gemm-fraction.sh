#!/usr/bin/env bash
# Each workload's achieved GFLOP/s (bench.ts: the model's matrix-product FLOPs per step over the step time)
# beside the rate sgemm reaches on that workload's own shapes alone (bench/gemm.ts), alternating the two,
# ROUNDS times; prints one JSON line per pair with the fraction.
#   bash bench/gemm-fraction.sh [ROUNDS] [THREADS] [WORKLOADS]
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-2}; threads=${2:-2}; workloads=${3:-"infer finetune finetune-token pretrain"}
npx tsc -p .
for r in $(seq "$rounds"); do
  for what in $workloads; do
    g=$(node dist/bench/gemm.js --what "$what" --threads "$threads" --steps 5 | grep -o '"gflops_per_second":[0-9.]*' | cut -d: -f2)
    w=$(node dist/bench/bench.js --what "$what" --threads "$threads" --steps 5 | grep -o '"gflops_per_second":[0-9.]*' | cut -d: -f2)
    echo "{\"round\":$r,\"what\":\"$what\",\"workload_gflops\":$w,\"gemm_gflops\":$g,\"fraction\":$(node -p "($w / $g).toFixed(2)")}"
  done
done
