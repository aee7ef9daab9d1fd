# Sourced by bench/token-tasks.sh and bench/qa-tasks.sh. run_pair NAME FINETUNE-FLAGS...: fine-tunes one task from
# $model (a pretrained discriminator) and from random weights of its config and vocabulary ($vocab), writing
# $out/NAME-{pretrained,random}/ and their logs, with --lr 3e-4 and the caller's ${extra[@]}; prints one JSON line
# per run: the median dev metrics (conlleval's per-type ones left out), sizes, training time and tokens/s.
run_pair() {
  local name=$1; shift
  local init from
  for init in pretrained random; do
    if [ "$init" = pretrained ]; then from=(--model "$model"); else from=(--config "$model/config.json" --vocab "$vocab"); fi
    node dist/src/cli/main.js finetune "$@" "${from[@]}" --lr 3e-4 --out "$out/$name-$init" "${extra[@]}" > "$out/$name-$init.log" 2>&1
    node -e '
      const m = require(process.argv[1]);
      const dev = Object.fromEntries(Object.entries(m.median).filter(([k]) => !/_(precision|recall|f1)$/.test(k) || /^(HasAns|NoAns|macro)_/.test(k)));
      console.log(JSON.stringify({ task: process.argv[2], init: process.argv[3], dev, train_examples: m.train_examples, train_features: m.train_features,
        dev_examples: m.dev_examples, train_seconds: +m.train_seconds.toFixed(1), tokens_per_second: Math.round(m.tokens_per_second) }));
    ' "$(realpath "$out/$name-$init/metrics.json")" "$name" "$init"
  done
}
