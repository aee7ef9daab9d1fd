#!/usr/bin/env bash
# Extractive QA and multiple choice end to end on the real files (issue 17), from a discriminator pretrained with
# `electra pretrain` and from random weights of the same architecture and vocabulary (seed 1, the official
# defaults but --lr 3e-4, the paper's small-model rate):
#   - SQuAD 1.1: ../shared has only the dev set; its first 40 articles train, the other 8 are scored (every
#     question of them), by `electra score` and by the official evaluate-v1.1.py on the same predictions.json;
#   - SQuAD 2.0: the Normans article; its first 30 paragraphs train, the other 11 are scored (HasAns / NoAns);
#   - COPA (dev XML, 500 items; 20% held out) and OpenBookQA (train.tsv -> dev.tsv): accuracy.
# Prints one JSON line per run, and the official scripts' output beside ours.
#   bash bench/qa-tasks.sh PRETRAINED_DISCRIMINATOR_DIR OUT [EXTRA FINETUNE FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; out=$2; shift 2
extra=("$@")
data=../shared/data
vocab="$model/vocab.txt"; [ -f "$vocab" ] || vocab="$model/tokenizer.json"
mkdir -p "$out/files"
node -e '
  const fs = require("fs"), [d, o] = process.argv.slice(1);
  const v1 = JSON.parse(fs.readFileSync(d + "/qa/squad-v1.1/dev-v1.1.json", "utf8"));
  fs.writeFileSync(o + "/squad1-train.json", JSON.stringify({ version: v1.version, data: v1.data.slice(0, 40) }));
  fs.writeFileSync(o + "/squad1-eval.json", JSON.stringify({ version: v1.version, data: v1.data.slice(40) }));
  const v2 = JSON.parse(fs.readFileSync(d + "/qa/squad-v2.0-normans/dev-v2.0.json", "utf8"));
  const a = v2.data[0];
  fs.writeFileSync(o + "/squad2-train.json", JSON.stringify({ version: v2.version, data: [{ ...a, paragraphs: a.paragraphs.slice(0, 30) }] }));
  fs.writeFileSync(o + "/squad2-eval.json", JSON.stringify({ version: v2.version, data: [{ ...a, paragraphs: a.paragraphs.slice(30) }] }));
' "$data" "$out/files"
source bench/finetune-pair.sh
official() {  # task, script, data file, predictions
  echo "{\"check\": \"$1 $(basename "$4")\", \"electra_score\": $(node dist/src/cli/main.js score --task "$1" --data "$3" --predictions "$4" | tr -d '\n '), \"official\": $(/usr/bin/python3 "$data/scorers/squad/$2" "$3" "$4" | tr -d '\n ')}"
}
run_pair squad1 --task squad --train-file "$out/files/squad1-train.json" --validation-file "$out/files/squad1-eval.json"
for init in pretrained random; do official squad evaluate-v1.1.py "$out/files/squad1-eval.json" "$out/squad1-$init/dev_predictions.json"; done
run_pair squad2 --task squad_v2 --train-file "$out/files/squad2-train.json" --validation-file "$out/files/squad2-eval.json"
for init in pretrained random; do official squad_v2 evaluate-v2.0.py "$out/files/squad2-eval.json" "$out/squad2-$init/dev_predictions.json"; done
run_pair copa --task copa --train-file "$data/multiple-choice/copa/datasets/copa-dev.xml" --validation-split 0.2
run_pair openbookqa --task openbookqa --train-file "$data/multiple-choice/openbookqa/train.tsv" --validation-file "$data/multiple-choice/openbookqa/dev.tsv"
