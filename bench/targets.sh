#!/usr/bin/env bash
# Issue 18's five speed targets in one run, each against its peer in the same run, and a verdict per target:
#   float32 inference >= onnxruntime-node at 8 x 128 and at 1 x 16   (bench/infer-vs-ort.sh, ROUNDS_INFER rounds)
#   int8 inference >= 1.5x our float32 at 8 x 128                    (alternating fp32 / int8, ROUNDS rounds)
#   fine-tuning step >= 4x and pretraining step >= 4.5x PyTorch     (bench/compare.sh, ROUNDS rounds)
# each as the median of the per-round ratios; then the fraction of the GEMM rate per training workload
# (bench/gemm-fraction.sh, one round) and the CPU's instruction-set flags. Every run's own JSON line goes to
# LOG (default: a file under /tmp, named at the end) for BENCHMARKS.md.
#   bash bench/targets.sh ORT_DIR [ROUNDS=3] [THREADS=2] [ROUNDS_INFER=7]
# ORT_DIR as for bench/infer-vs-ort.sh; needs ../shared/reference and Debian's python3-torch for the training peer.
set -euo pipefail
cd "$(dirname "$0")/.."
[ $# -ge 1 ] || { echo "usage: bash bench/targets.sh ORT_DIR [ROUNDS=3] [THREADS=2] [ROUNDS_INFER=7]" >&2; exit 2; }
ort=$(cd "$1" && pwd); rounds=${2:-3}; threads=${3:-2}; rounds_infer=${4:-7}
log=${LOG:-$(mktemp /tmp/electra-targets.XXXXXX)}
npx tsc -p . >/dev/null
echo "cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), family $(grep -m1 'cpu family' /proc/cpuinfo | cut -d: -f2 | xargs) model $(grep -m1 '^model\s' /proc/cpuinfo | cut -d: -f2 | xargs); flags: $(grep -m1 -o -w -E 'avx2|fma|avx512f|avx512_vnni|avx_vnni|amx_int8' /proc/cpuinfo | sort -u | xargs)" | tee -a "$log"

bash bench/infer-vs-ort.sh "$ort" "$rounds_infer" "$threads" | tee -a "$log" >/dev/null
for r in $(seq "$rounds"); do
  for dtype in fp32 int8; do
    node dist/bench/bench.js --what infer --dtype "$dtype" --batch 8 --seq 128 --threads "$threads" --steps 10 | tail -1 | sed "s/^{/{\"target_round\":$r,/" >>"$log"
  done
done
bash bench/compare.sh "$rounds" "$threads" "finetune pretrain" | tee -a "$log" >/dev/null
bash bench/gemm-fraction.sh 1 "$threads" "finetune pretrain" | tee -a "$log" >/dev/null

node -e '
const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const rows = [];
const row = (target, ratios, min) => rows.push({ target, ratios: ratios.map((x) => +x.toFixed(3)), median: +median(ratios).toFixed(3), needs: min, met: median(ratios) >= min });
for (const shape of ["8x128", "1x16"]) {
  const m = lines.find((l) => l.shape === shape && l.median_ratio !== undefined);
  if (m) row(`fp32 inference ${shape} / onnxruntime`, m.ratios, 1.0);
}
const ours = (what, dtype) => lines.filter((l) => l.impl === "electra-ts" && l.what === what && (dtype === undefined || l.dtype === dtype) && l.target_round !== undefined);
const fp32 = ours("infer", "fp32"), int8 = ours("infer", "int8");
row("int8 / fp32 inference 8x128", int8.map((l, i) => l.tokens_per_second / fp32[i].tokens_per_second), 1.5);
for (const [what, min] of [["finetune", 4.0], ["pretrain", 4.5]]) {
  // compare.sh: electra-ts, then PyTorch, per workload and round
  const ts = lines.filter((l) => l.what === what && l.target_round === undefined && (l.impl === "electra-ts" || l.impl === "pytorch-eager"));
  const ratios = [];
  for (let i = 0; i + 1 < ts.length; i++) if (ts[i].impl === "electra-ts" && ts[i + 1].impl === "pytorch-eager") ratios.push(ts[i].tokens_per_second / ts[++i].tokens_per_second);
  row(`${what} step / PyTorch`, ratios, min);
}
for (const l of lines.filter((l) => l.fraction !== undefined)) rows.push({ target: `${l.what}: fraction of the GEMM rate (${l.workload_gflops} of ${l.gemm_gflops} GFLOP/s)`, median: +l.fraction });
for (const r of rows) console.log(JSON.stringify(r));
console.log(rows.every((r) => r.met !== false) ? "all five targets met" : "not met: " + rows.filter((r) => r.met === false).map((r) => r.target).join("; "));
' "$log"
echo "every run: $log"
