/**
 * Load test of `electra serve` on loopback: starts the server as a child process on a free port, runs C
 * concurrent clients, each sending one /classify request (one sentence) after another for D seconds, and
 * prints requests/s, latency percentiles and the error count as one JSON line. The model is an
 * ELECTRA-Small-sized classifier with random weights (the speed does not depend on the values), saved with
 * the BERT uncased vocabulary from ../shared when present, else the demo's vocabulary.
 *
 *   node dist/bench/serve-load.js [--clients 8] [--seconds 60] [--threads 2] [--model DIR]
 */
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { syntheticVocabulary, generateDocument } from "../src/data/synthetic.js";
import { saveHfFolder } from "../src/io/hf-folder.js";
import { parseConfig } from "../src/model/config.js";
import { createModel } from "../src/model/electra.js";
import { initParams } from "../src/model/params.js";

const { values: a } = parseArgs({ options: {
  clients: { type: "string", default: "8" }, seconds: { type: "string", default: "60" }, threads: { type: "string", default: "2" }, model: { type: "string" },
} });
const clients = Number(a.clients), seconds = Number(a.seconds);

let model = a.model;
if (!model) {
  const dir = mkdtempSync(join(tmpdir(), "electra-serve-load-"));
  const bert = resolve(process.cwd(), "..", "shared", "data", "models", "google-electra-small-discriminator", "vocab.txt");
  let vocab = join(dir, "vocab.txt"), V = 30522;
  if (existsSync(bert)) vocab = bert;
  else {
    writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
    V = syntheticVocabulary().length;
  }
  const cfg = parseConfig({ vocab_size: V, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024, id2label: { 0: "negative", 1: "positive" } });
  const m = createModel("classifier", cfg);
  initParams(m.store, 0.02, 1);
  model = join(dir, "model");
  saveHfFolder(model, m.store, cfg, { architecture: "ElectraForSequenceClassification", tokenizerFiles: [vocab] });
}

const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
const child = spawn(process.execPath, [cli, "serve", "--model", model, "--port", "0", "--threads", a.threads!], { stdio: ["ignore", "pipe", "inherit"] });
let out = "";
const port = await new Promise<number>((res, rej) => {
  child.stdout!.on("data", (d: Buffer) => {
    out += d.toString();
    const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
    if (m) res(Number(m[1]));
  });
  child.on("exit", () => rej(new Error(`serve exited: ${out}`)));
});

const rng = new Rng(3);
const sentences = Array.from({ length: 200 }, () => generateDocument(rng).slice(0, 2).join(" "));
const latencies: number[] = [];
let errors = 0;
const firstErrors: string[] = [];
const end = performance.now() + seconds * 1000;
async function client(id: number): Promise<void> {
  let i = id;
  while (performance.now() < end) {
    const t0 = performance.now();
    try {
      const r = await fetch(`http://127.0.0.1:${port}/classify`, { method: "POST", headers: { "content-type": "application/json" },
        body: JSON.stringify({ inputs: [sentences[i++ % sentences.length]] }) });
      const body = (await r.json()) as { results?: unknown[]; error?: string };
      if (r.status !== 200 || body.results?.length !== 1) throw new Error(`status ${r.status}: ${body.error ?? "no result"}`);
      latencies.push(performance.now() - t0);
    } catch (e) {
      errors++;
      if (firstErrors.length < 3) firstErrors.push((e as Error).message);
    }
  }
}
const t0 = performance.now();
await Promise.all(Array.from({ length: clients }, (_, i) => client(i)));
const elapsed = (performance.now() - t0) / 1000;
child.kill("SIGTERM");
await new Promise((r) => child.on("exit", r));
latencies.sort((x, y) => x - y);
const pct = (p: number) => latencies[Math.min(latencies.length - 1, Math.floor((p / 100) * latencies.length))];
console.log(JSON.stringify({
  what: "serve /classify, 1 sentence per request", clients, seconds: +elapsed.toFixed(1), threads: Number(a.threads), requests: latencies.length, errors,
  requests_per_second: +(latencies.length / elapsed).toFixed(1), p50_ms: +pct(50).toFixed(1), p90_ms: +pct(90).toFixed(1), p99_ms: +pct(99).toFixed(1),
  max_ms: +latencies[latencies.length - 1].toFixed(1), first_errors: firstErrors,
}));
if (errors) process.exitCode = 1;
