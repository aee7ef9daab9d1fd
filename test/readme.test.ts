/**
 * The README, read cold, runs as written. In a scratch folder holding what the Quickstart's demo leaves in
 * runs/demo/ (here small models with random weights and the demo's vocabulary), `node_modules/electra-ts`
 * (a link to this package, as `npm install` makes it) and small stand-ins for the files the quick starts
 * name (corpus/, train.csv, conll2003/, SQuAD JSON, JSONL, glue/), every ```js block runs with node and every
 * command of every ```sh block under "Quick starts" runs in order, `npx electra` being `node dist/src/cli/main.js`.
 * The only changes: pretraining's `--steps 2000 --save-every 500` become `--steps 4 --save-every 2` (the same
 * commands, minutes shorter), and `serve` is started, asked the README's /classify request, and stopped.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { generateHabitatTask, HABITAT_LABELS, syntheticVocabulary, writeSyntheticCorpus } from "../src/data/synthetic.js";
import { saveHfFolder } from "../src/io/hf-folder.js";
import { parseConfig } from "../src/model/config.js";
import { createModel } from "../src/model/electra.js";
import { initParams } from "../src/model/params.js";
import { PRESETS } from "../src/train/pretrain.js";

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const readme = readFileSync("README.md", "utf8");

/** A scratch folder as the README's reader has it after the Quickstart. */
function scratch(): string {
  const dir = mkdtempSync(join(tmpdir(), "electra-readme-"));
  mkdirSync(join(dir, "node_modules"));
  symlinkSync(process.cwd(), join(dir, "node_modules", "electra-ts"));
  const vocab = join(dir, "runs", "demo", "vocab.txt");
  mkdirSync(join(dir, "runs", "demo"), { recursive: true });
  writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
  // the demo's sizes: the tiny preset with the demo's vocabulary
  const cfg = parseConfig({ ...PRESETS.tiny.model, vocab_size: syntheticVocabulary().length });
  const labelled = parseConfig({ ...cfg, id2label: { 0: "domestic", 1: "wild" } });
  for (const [name, kind, arch, c] of [["discriminator", "discriminator", "ElectraForPreTraining", cfg], ["generator", "generator", "ElectraForMaskedLM", cfg],
    ["finetuned/model", "classifier", "ElectraForSequenceClassification", labelled]] as const) {
    const m = createModel(kind, c);
    initParams(m.store, 0.02, 1);
    saveHfFolder(join(dir, "runs", "demo", name), m.store, c, { architecture: arch, tokenizerFiles: [vocab] });
  }
  return dir;
}

/** Small stand-ins for the data files the quick starts name, from the demo's generated world. */
function dataFiles(dir: string): void {
  const w = (p: string, text: string) => {
    mkdirSync(join(dir, p, ".."), { recursive: true });
    writeFileSync(join(dir, p), text);
  };
  writeSyntheticCorpus(join(dir, "corpus", "generated.txt"), 200, 3);
  const rows = (n: number, seed: number) => generateHabitatTask(n, seed);
  const csv = (xs: ReturnType<typeof rows>) => "text,label\n" + xs.map((x) => `"${x.sentence}",${HABITAT_LABELS[x.label]}`).join("\n") + "\n";
  w("train.csv", csv(rows(48, 1)));
  w("dev.csv", csv(rows(16, 2)));
  // CoNLL: the creature words tagged as entities
  const creatures = new Set(["dog", "cat", "horse", "cow", "bird", "fish", "bee", "owl", "dogs", "cats", "birds", "fish", "bees", "owls"]);
  const conll = (xs: ReturnType<typeof rows>) => "-DOCSTART- -X- -X- O\n\n" + xs.map((x) => x.sentence.replace(/\./g, " .").split(/\s+/).filter(Boolean)
    .map((t) => `${t} X X ${creatures.has(t.toLowerCase()) ? "B-ANIMAL" : "O"}`).join("\n")).join("\n\n") + "\n";
  const ner = (xs: ReturnType<typeof rows>) => conll(xs.map((x) => ({ ...x, sentence: `The ${x.creature} is here. ${x.sentence}` })));
  w("conll2003/train.txt", ner(rows(40, 3)));
  w("conll2003/valid.txt", ner(rows(12, 4)));
  // SQuAD: "What does it eat?" over a sentence that says it
  const squad = (n: number, seed: number) => JSON.stringify({
    version: "1.1", data: [{ title: "creatures", paragraphs: rows(n, seed).map((x, i) => {
      const context = `The ${x.creature} lives here. ${x.sentence}`;
      return { context, qas: [{ id: `q${seed}-${i}`, question: "Which creature lives here?", answers: [{ text: x.creature, answer_start: 4 }] }] };
    }) }],
  });
  w("train-v1.1.json", squad(24, 5));
  w("dev-v1.1.json", squad(8, 6));
  w("article.txt", "The horse lives here. It gallops across the plain.\n");
  const mc = (n: number, seed: number) => rows(n, seed).map((x, i) => JSON.stringify({
    context: x.sentence, choices: i % 2 ? [HABITAT_LABELS[x.label], HABITAT_LABELS[1 - x.label]] : [HABITAT_LABELS[1 - x.label], HABITAT_LABELS[x.label]], label: i % 2 ? 0 : 1,
  })).join("\n") + "\n";
  w("train.jsonl", mc(32, 7));
  w("dev.jsonl", mc(8, 8));
  const sst = (xs: ReturnType<typeof rows>) => "sentence\tlabel\n" + xs.map((x) => `${x.sentence}\t${x.label}`).join("\n") + "\n";
  w("glue/SST-2/train.tsv", sst(rows(32, 9)));
  w("glue/SST-2/dev.tsv", sst(rows(8, 10)));
  w("glue/SST-2/test.tsv", "index\tsentence\n" + rows(4, 11).map((x, i) => `${i}\t${x.sentence}`).join("\n") + "\n");
}

/** The commands of the ```sh blocks under "## Quick starts", one per logical line, in order. */
function quickStartCommands(): { section: string; command: string }[] {
  const part = readme.slice(readme.indexOf("## Quick starts"), readme.indexOf("\n## ", readme.indexOf("## Quick starts") + 5));
  const out: { section: string; command: string }[] = [];
  let section = "";
  const lines = part.split("\n");
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].startsWith("### ")) section = lines[i].slice(4);
    if (lines[i] !== "```sh") continue;
    for (i++; lines[i] !== "```"; i++) {
      let c = lines[i];
      while (c.endsWith("\\")) c = c.slice(0, -1) + " " + lines[++i].trim();
      if (c.trim() && !c.trim().startsWith("#")) out.push({ section, command: c.trim() });
    }
  }
  return out;
}

test("the README's JavaScript examples run as written", () => {
  const dir = scratch();
  const blocks = [...readme.matchAll(/```js\n([\s\S]*?)```/g)].map((m) => m[1]);
  assert.ok(blocks.length >= 2, "the README has the install and library examples");
  blocks.forEach((code, i) => {
    writeFileSync(join(dir, `example${i}.mjs`), code.replace('"path/to/a/model-folder"', '"runs/demo/finetuned/model"'));
    const r = spawnSync(process.execPath, [`example${i}.mjs`], { cwd: dir, encoding: "utf8", env: { ...process.env, ELECTRA_THREADS: "1" } });
    assert.equal(r.status, 0, `README example ${i} failed:\n${r.stderr}`);
    if (code.includes("detect")) {
      assert.match(r.stdout, /^the:0\.\d\d loyal:0\.\d\d dog:0\.\d\d barks:/);
      assert.match(r.stdout, /\n128\n$/);
    } else assert.match(r.stdout, /label: '(domestic|wild)'/);
  });
  rmSync(dir, { recursive: true, force: true });
});

test("every quick start in the README runs as written", { timeout: 600_000 }, async () => {
  const dir = scratch();
  dataFiles(dir);
  const commands = quickStartCommands();
  assert.ok(commands.length >= 20, `found ${commands.length} commands`);
  const sections = new Set(commands.map((c) => c.section));
  for (const s of ["Pretrain on your corpus", "Named entities and chunking", "Extractive question answering (SQuAD 1.1 / 2.0)", "Multiple choice", "Serve", "Use a model"]) {
    assert.ok(sections.has(s), `no commands under ${s}`);
  }
  for (const { section, command } of commands) {
    assert.ok(command.startsWith("npx electra "), `${section}: ${command} is not an electra command`);
    const argv = command.slice("npx electra ".length).replace("--steps 2000 --save-every 500", "--steps 4 --save-every 2");
    const env = { ...process.env, ELECTRA_THREADS: "1" };
    if (argv.startsWith("serve ")) {
      const child = spawn("bash", ["-c", `exec node ${cli} ${argv.replace("--port 8080", "--port 0")}`], { cwd: dir, env });
      let out = "";
      child.stdout.on("data", (d) => (out += d));
      const port = await new Promise<number>((resolve, reject) => {
        child.on("exit", (c) => reject(new Error(`serve exited ${c}: ${out}`)));
        const t = setInterval(() => {
          const m = /listening on http:\/\/[^:]+:(\d+)/.exec(out);
          if (m) {
            clearInterval(t);
            resolve(Number(m[1]));
          }
        }, 50);
      });
      const res = await fetch(`http://127.0.0.1:${port}/classify`, { method: "POST", body: JSON.stringify({ inputs: ["It purrs by the fire."] }) });
      assert.equal(res.status, 200);
      const body = (await res.json()) as { results: { label: string }[] };
      assert.ok(["domestic", "wild"].includes(body.results[0].label));
      const code = new Promise((r) => child.on("exit", r));
      child.kill("SIGTERM");
      assert.equal(await code, 0);
      continue;
    }
    const r = spawnSync("bash", ["-c", `node ${cli} ${argv}`], { cwd: dir, encoding: "utf8", env });
    assert.equal(r.status, 0, `${section}: \`${command}\` failed:\n${r.stderr}`);
    assert.ok(!/^electra: /m.test(r.stderr), `${section}: \`${command}\` printed an error:\n${r.stderr}`);
  }
  rmSync(dir, { recursive: true, force: true });
});
