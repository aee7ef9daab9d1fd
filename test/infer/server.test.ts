/** `electra serve`: dynamic batching, 4xx errors for bad input, graceful shutdown (loopback only). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Electra } from "../../src/index.js";
import { syntheticVocabulary } from "../../src/data/synthetic.js";
import { ElectraServer } from "../../src/infer/server.js";
import { saveHfFolder } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";

const dir = mkdtempSync(join(tmpdir(), "electra-serve-"));
writeFileSync(join(dir, "vocab.txt"), syntheticVocabulary().join("\n") + "\n");
const cfg = parseConfig({ vocab_size: syntheticVocabulary().length, embedding_size: 16, hidden_size: 24, num_attention_heads: 2, intermediate_size: 48,
  num_hidden_layers: 2, max_position_embeddings: 40, id2label: { 0: "no", 1: "yes" } });
const m = createModel("classifier", cfg);
initParams(m.store, 0.5, 9);
saveHfFolder(join(dir, "cls"), m.store, cfg, { architecture: "ElectraForSequenceClassification", tokenizerFiles: [join(dir, "vocab.txt")] });

async function post(port: number, path: string, body: unknown, raw?: string) {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers: { "content-type": "application/json" }, body: raw ?? JSON.stringify(body) });
  return { status: r.status, json: (await r.json()) as { results?: unknown[]; error?: string } };
}

test("concurrent requests are batched together and get their own results", async () => {
  const model = await Electra.load(join(dir, "cls"), { threads: 1 });
  const server = new ElectraServer(model, { port: 0, maxBatch: 16, maxWaitMs: 30 });
  const port = await server.listen();
  try {
    const texts = Array.from({ length: 12 }, (_, i) => `the dog barks ${"and the cat purrs ".repeat(i % 4)}`.trim());
    const direct = await model.classify(texts);
    const replies = await Promise.all(texts.map((t) => post(port, "/classify", { inputs: [t] })));
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      const got = r.json.results![0] as { label: string; scores: Record<string, number> };
      assert.equal(got.label, direct[i].label);
      assert.ok(Math.abs(got.scores.yes - direct[i].scores.yes) < 1e-5);
    });
    assert.ok(server.stats.batches < 12, `12 requests ran in ${server.stats.batches} batches`);
    const health = await (await fetch(`http://127.0.0.1:${port}/health`)).json();
    assert.deepEqual(health, { status: "ok", kind: "classifier", model: join(dir, "cls") });
  } finally {
    await server.close();
  }
});

test("bad input gets a clear 4xx, never a crash", async () => {
  const model = await Electra.load(join(dir, "cls"), { threads: 1 });
  const server = new ElectraServer(model, { port: 0, maxBodyBytes: 2000, maxInputs: 3 });
  const port = await server.listen();
  try {
    const cases: [string, unknown, string | undefined, number, RegExp][] = [
      ["/classify", null, "{not json", 400, /must be a JSON object/],
      ["/classify", { texts: ["x"] }, undefined, 400, /"inputs" must be a non-empty array/],
      ["/classify", { inputs: [1] }, undefined, 400, /inputs\[0\] must be a string/],
      ["/classify", { inputs: ["a", "b", "c", "d"] }, undefined, 413, /4 inputs in one request; the limit is 3/],
      ["/classify", { inputs: ["x".repeat(3000)] }, undefined, 413, /exceeds the 2000-byte limit/],
      ["/detect", { inputs: ["x"] }, undefined, 400, /\/detect needs a discriminator model; this server holds a classifier/],
      ["/nope", { inputs: ["x"] }, undefined, 404, /no route \/nope/],
    ];
    for (const [path, body, raw, status, re] of cases) {
      const r = await post(port, path, body, raw);
      assert.equal(r.status, status, `${path} ${raw ?? JSON.stringify(body).slice(0, 40)}`);
      assert.match(r.json.error ?? "", re);
    }
    const g = await fetch(`http://127.0.0.1:${port}/classify`);
    assert.equal(g.status, 405);
    assert.equal((await post(port, "/classify", { inputs: ["still fine"] })).status, 200);
  } finally {
    await server.close();
  }
});

test("the serve command shuts down gracefully on SIGTERM, answering the requests it had", async () => {
  const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
  const child = spawn(process.execPath, [cli, "serve", "--model", join(dir, "cls"), "--port", "0", "--threads", "1", "--max-wait-ms", "200"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const port = await new Promise<number>((resolve, reject) => {
    child.stdout.on("data", (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    });
    child.on("exit", () => reject(new Error(`serve exited early: ${out}`)));
  });
  const pending = post(port, "/classify", { inputs: ["the fish swims"] }); // waits up to 200 ms for company
  await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGTERM");
  const r = await pending;
  assert.equal(r.status, 200);
  const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
  assert.equal(code, 0);
  assert.match(out, /closed after 1 requests, 1 inputs in 1 batches/);
});
