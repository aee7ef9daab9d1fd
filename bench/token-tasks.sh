#!/usr/bin/env bash
# The new fine-tuning tasks end to end on real files (issue 16), each from a discriminator pretrained with
# `electra pretrain` and from random weights of the same architecture and vocabulary (seed 1, the official
# defaults but --lr 3e-4, the paper's small-model rate; 3 epochs):
#   - NER: CoNLL-2003 train.txt -> valid.txt (IOB2), conlleval's entity F1;
#   - chunking: CoNLL-2000 train.txt with --validation-split 0.1, conlleval's F1;
#   - text-classification from a CSV (SST-2 rewritten with string labels and RFC 4180 quoting) and from a
#     JSONL file (CoLA rewritten as {"text", "label": "acceptable" | "unacceptable"}), accuracy.
# Prints one JSON line per run (the median dev metrics, training time and tokens/s).
#   bash bench/token-tasks.sh PRETRAINED_DISCRIMINATOR_DIR OUT [EXTRA FINETUNE FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; out=$2; shift 2
extra=("$@")
data=../shared/data
vocab="$model/vocab.txt"; [ -f "$vocab" ] || vocab="$model/tokenizer.json"
mkdir -p "$out/files"
# the user-file sets, written from GLUE files (quoting: fields with commas or quotes are quoted, quotes doubled)
node -e '
  const fs = require("fs");
  const q = (s) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, "\"\"")}"` : s);
  const sst = (f, n) => ["text,label", ...fs.readFileSync(f, "utf8").trim().split("\n").slice(1, n + 1)
    .map((l) => l.split("\t")).map(([t, y]) => `${q(t.trim())},${y === "1" ? "positive" : "negative"}`)].join("\n") + "\n";
  fs.writeFileSync(process.argv[2] + "/sst2-train.csv", sst(process.argv[1] + "/glue/SST-2/train.tsv", 8000));
  fs.writeFileSync(process.argv[2] + "/sst2-dev.csv", sst(process.argv[1] + "/glue/SST-2/dev.tsv", 100000));
  const cola = (f) => fs.readFileSync(f, "utf8").trim().split("\n").map((l) => l.split("\t"))
    .map((c) => JSON.stringify({ text: c[3], label: c[1] === "1" ? "acceptable" : "unacceptable" })).join("\n") + "\n";
  fs.writeFileSync(process.argv[2] + "/cola-train.jsonl", cola(process.argv[1] + "/glue/CoLA/train.tsv"));
  fs.writeFileSync(process.argv[2] + "/cola-dev.jsonl", cola(process.argv[1] + "/glue/CoLA/dev.tsv"));
' "$data" "$out/files"
source bench/finetune-pair.sh
run_pair ner --task ner --data-dir "$data/ner/conll2003"
run_pair chunking --task chunking --train-file "$data/chunking/conll2000/train.txt" --validation-split 0.1
run_pair csv-sst2 --task text-classification --train-file "$out/files/sst2-train.csv" --validation-file "$out/files/sst2-dev.csv"
run_pair jsonl-cola --task text-classification --train-file "$out/files/cola-train.jsonl" --validation-file "$out/files/cola-dev.jsonl"
