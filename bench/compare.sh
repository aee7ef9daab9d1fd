#!/usr/bin/env bash
# Runs electra-ts and the PyTorch reference on the three workloads, interleaved (ours, then PyTorch, per
# workload, ROUNDS times) so that machine noise hits both sides alike, and prints one JSON line per run.
#   bash bench/compare.sh [ROUNDS] [THREADS] [WORKLOADS]   (needs ../shared/reference and Debian's python3-torch)
# WORKLOADS: default "infer finetune pretrain"; finetune-token (ElectraForTokenClassification) is compared with the
# reference's finetune, which has no token workload.
set -euo pipefail
cd "$(dirname "$0")/.."
rounds=${1:-3}; threads=${2:-2}; workloads=${3:-"infer finetune pretrain"}
ref=../shared/reference/electra_ref.py
npx tsc -p . >/dev/null
for r in $(seq "$rounds"); do
  for what in $workloads; do
    node dist/bench/bench.js --what "$what" --threads "$threads" --steps 5
    /usr/bin/python3 "$ref" bench --what "${what/finetune-token/finetune}" --threads "$threads" --steps 5
  done
done
