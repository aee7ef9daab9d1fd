#!/usr/bin/env bash
# Does pretraining pay? Fine-tunes the same architecture twice per task, from a discriminator pretrained with
# `electra pretrain` and from random weights, with the official fine-tuning defaults (or the extra finetune
# flags given, the same for both sides) and 3 seeds each, and prints the median dev metrics side by side.
#   bash research/pretraining-pays.sh PRETRAINED_DISCRIMINATOR_DIR OUT [MAX_TRAIN_EXAMPLES] [TASKS] [EXTRA FLAGS...]
set -euo pipefail
cd "$(dirname "$0")/.."
model=$1; out=$2; n=${3:-4000}; tasks=${4:-"SST-2 CoLA STS-B"}
shift $(( $# < 4 ? $# : 4 ))
extra=("$@")
glue=../shared/data/glue
vocab="$model/vocab.txt"; [ -f "$vocab" ] || vocab="$model/tokenizer.json"
for task in $tasks; do
  for init in pretrained random; do
    if [ "$init" = pretrained ]; then from=(--model "$model"); else from=(--config "$model/config.json" --vocab "$vocab"); fi
    node dist/src/cli/main.js finetune --task "$task" --data-dir "$glue" "${from[@]}" --seeds 1,2,3 \
      --max-train-examples "$n" --out "$out/$task-$init" "${extra[@]}" > "$out-$task-$init.log" 2>&1
    node -e '
      const m = require(process.argv[1]);
      const med = m.median ?? m;
      console.log(JSON.stringify({ task: process.argv[2], init: process.argv[3], median: med, seeds: m.seeds.map((s) => s.dev) }));
    ' "$(realpath "$out/$task-$init/metrics.json")" "$task" "$init"
  done
done
