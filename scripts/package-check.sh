#!/usr/bin/env bash
# The package as a new user gets it. `npm pack` here (with the prebuilt addon, scripts/prebuild.sh), then in
# a fresh Debian root holding only Node 20, npm and git (../shared/tools/fresh-debian.sh: no compiler, no
# OpenBLAS, no apt-get run) a new project `npm install`s the tarball, imports electra-ts, loads a model folder
# and classifies, and runs `npx electra --help`. Checked: nothing was compiled (no g++ there, no build/ in the
# installed package), and the classifier's scores equal, bit for bit, those of the source build here.
#   bash scripts/package-check.sh [ROOT]     needs root (chroot); ROOT defaults to /tmp/electra-fresh
set -euo pipefail
cd "$(dirname "$0")/.."
root=${1:-/tmp/electra-fresh}
bash ../shared/tools/fresh-debian.sh "$root"
tgz=$(npm pack --silent 2>/dev/null | tail -1)
work="$root/pkgcheck"; rm -rf "$work"; cp -a "$root/base" "$work"
mkdir -p "$work/home/app"
cp "$tgz" "$work/home/"
# a small classifier folder (random weights, the demo's vocabulary), written by the package's own saver
node --input-type=module -e '
  import { createModel, initParams, parseConfig, saveHfFolder } from "./dist/src/index.js";
  import { syntheticVocabulary } from "./dist/src/data/synthetic.js";
  import { writeFileSync } from "node:fs";
  const out = process.argv[1], vocab = out + ".vocab.txt";
  writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
  const cfg = parseConfig({ embedding_size: 64, hidden_size: 64, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 256,
    max_position_embeddings: 128, vocab_size: syntheticVocabulary().length, num_labels: 2, id2label: { 0: "domestic", 1: "wild" } });
  const m = createModel("ElectraForSequenceClassification", cfg);
  initParams(m.store, 0.02, 7);
  saveHfFolder(out, m.store, cfg, { architecture: "ElectraForSequenceClassification", tokenizerFiles: [vocab] });
' "$work/home/model"
cat > "$work/home/app/classify.mjs" <<'JS'
import { Electra } from "electra-ts";
const model = await Electra.load(process.argv[2]);
const results = await model.classify(["It purrs by the fire.", "They gallop across the plain."]);
console.log(JSON.stringify(results));
JS
mount --bind /proc "$work/proc"; mount --bind /dev "$work/dev"
trap 'umount "$work/proc" "$work/dev" 2>/dev/null || true' EXIT
# OpenBLAS's own settings (OPENBLAS_CORETYPE picks its kernels) go in, so that both sides run the same kernels
blas_env=$(env | grep '^OPENBLAS_[A-Z0-9_]*=' | tr '\n' ' ' || true)
in_root() { chroot "$work" /usr/bin/env -i HOME=/root PATH=/usr/local/bin:/usr/bin:/bin TERM=dumb $blas_env bash -c "$1"; }
echo "== in a fresh Debian root: $(in_root 'node --version; command -v g++ || echo "no g++"; ls /usr/include/*/openblas* 2>/dev/null || echo "no OpenBLAS"' | tr '\n' ' ')"
echo "== npm install $(basename "$tgz")"
in_root "cd /home/app && npm init -y >/dev/null && npm pkg set type=module && npm install --no-audit --no-fund /home/$(basename "$tgz") 2>&1 | tail -3"
in_root "test ! -e /home/app/node_modules/electra-ts/build" || { echo "package-check: the install built the addon from source" >&2; exit 1; }
echo "== node classify.mjs /home/model   (${blas_env:-no OPENBLAS_* settings})"
there=$(in_root "cd /home/app && node classify.mjs /home/model")
echo "$there"
echo "== the types resolve: tsc --noEmit on a TypeScript file that imports electra-ts"
cat > "$work/home/app/check.ts" <<'TS'
import { Electra, type Classification } from "electra-ts";
const model: Electra = await Electra.load("/home/model");
const results: Classification[] = await model.classify(["It purrs by the fire."]);
const label: string = results[0].label;
console.log(label);
TS
in_root "cd /home/app && npm install --no-audit --no-fund --silent typescript@5 @types/node@20 >/dev/null 2>&1 && npx tsc --noEmit --strict --module nodenext --moduleResolution nodenext --target es2022 --types node check.ts && echo 'tsc: no errors'"
echo "== npx electra --help"
in_root "cd /home/app && npx electra --help | head -4"
here=$(node --input-type=module -e "
  import { Electra } from './dist/src/index.js';
  const model = await Electra.load(process.argv[1]);
  console.log(JSON.stringify(await model.classify(['It purrs by the fire.', 'They gallop across the plain.'])));" "$work/home/model")
if [ "$here" = "$there" ]; then echo "== the prebuilt addon's scores equal the source build's, bit for bit"; else echo "package-check: prebuilt $there != source $here" >&2; exit 1; fi
