#!/usr/bin/env bash
# Issue 18's inference criterion: electra-ts float32 (`npm run bench -- --what infer`) against onnxruntime-node
# (`node bench.mjs THREADS MODEL.onnx B T` of ../shared/reference/onnxruntime), alternating which goes first
# in each round, at B=8 x T=128 and B=1 x T=16; every run's JSON line, then per shape the ratio of each round
# (electra-ts tokens/s over onnxruntime's) and their median.
#   bash bench/infer-vs-ort.sh ORT_DIR [ROUNDS=5] [THREADS=2]
# ORT_DIR: a copy of ../shared/reference/onnxruntime after `ONNXRUNTIME_NODE_INSTALL=skip npm install` and
# `python3 export.py ORT_DIR/electra-small-cls.onnx` (run from ../shared/reference/onnxruntime; Debian's python3-torch).
set -euo pipefail
cd "$(dirname "$0")/.."
ort=$(cd "$1" && pwd); rounds=${2:-5}; threads=${3:-2}
npx tsc -p . >/dev/null
log=$(mktemp)
ours() { node dist/bench/bench.js --what infer --batch "$1" --seq "$2" --threads "$threads" --steps "$3" | tail -1; }
theirs() { (cd "$ort" && node bench.mjs "$threads" electra-small-cls.onnx "$1" "$2"); }
for r in $(seq "$rounds"); do
  for shape in "8 128 10" "1 16 200"; do
    set -- $shape
    if [ $((r % 2)) = 1 ]; then a=$(ours "$@"); b=$(theirs "$@"); else b=$(theirs "$@"); a=$(ours "$@"); fi
    echo "$a"; echo "$b"
    echo "{\"round\":$r,\"shape\":\"$1x$2\",\"ours\":$a,\"ort\":$b}" >>"$log"
  done
done
node -e '
const rows = require("fs").readFileSync(process.argv[1], "utf8").trim().split("\n").map((l) => JSON.parse(l));
for (const shape of [...new Set(rows.map((r) => r.shape))]) {
  const rs = rows.filter((r) => r.shape === shape).map((r) => r.ours.tokens_per_second / r.ort.tokens_per_second);
  const sorted = [...rs].sort((a, b) => a - b), med = sorted[Math.floor(sorted.length / 2)];
  console.log(JSON.stringify({ shape, ratios: rs.map((x) => +x.toFixed(3)), median_ratio: +med.toFixed(3) }));
}' "$log"
rm -f "$log"
