#!/usr/bin/env bash
# Issue 18's speed rows: electra-ts float32 and int8 (`bench --what infer --dtype int8`) and onnxruntime-node
# float32 and int8, interleaved per round (so that machine noise hits every side alike), at B=8 x T=128 and
# B=1 x T=16; one JSON line per run, each with its peak RSS (onnxruntime's from /usr/bin/time).
#   bash bench/int8.sh ORT_DIR [ROUNDS] [THREADS]
# ORT_DIR: a copy of ../shared/reference/onnxruntime after `ONNXRUNTIME_NODE_INSTALL=skip npm install` and
# `python3 export.py electra-small-cls.onnx`, with electra-small-cls-int8.onnx made by
# `python3 bench/onnx-quantize-dynamic.py electra-small-cls.onnx electra-small-cls-int8.onnx` (needs python3-onnx).
set -euo pipefail
cd "$(dirname "$0")/.."
ort=$(cd "$1" && pwd); rounds=${2:-5}; threads=${3:-2}
npx tsc -p . >/dev/null
rss() { /usr/bin/time -f '%M' -o /tmp/electra-int8-rss "$@"; }
for r in $(seq "$rounds"); do
  for shape in "8 128 10" "1 16 200"; do
    set -- $shape
    for dtype in fp32 int8; do
      node dist/bench/bench.js --what infer --dtype "$dtype" --batch "$1" --seq "$2" --threads "$threads" --steps "$3"
    done
    for model in electra-small-cls.onnx electra-small-cls-int8.onnx; do
      line=$(cd "$ort" && rss node bench.mjs "$threads" "$model" "$1" "$2")
      echo "${line%\}},\"model\":\"$model\",\"peak_rss_mb\":$(( $(cat /tmp/electra-int8-rss) / 1024 ))}"
    done
  done
done
