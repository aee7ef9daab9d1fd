/** `electra serve`: dynamic batching, 4xx errors for bad input, graceful shutdown (loopback only). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Electra } from "../../src/index.js";
import { ElectraServer } from "../../src/infer/server.js";
import { startServe } from "../../bench/serve-harness.js";
import { post, tinyModel } from "../helpers/serve.js";

const cls = tinyModel("classifier");

test("concurrent requests are batched together and get their own results", async () => {
  const model = await Electra.load(cls, { threads: 1 });
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
    assert.deepEqual(health, { status: "ok", kind: "classifier", model: cls });
  } finally {
    await server.close();
  }
});

test("bad input gets a clear 4xx, never a crash", async () => {
  const model = await Electra.load(cls, { threads: 1 });
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
  const { child, port, output, exited } = await startServe(["--model", cls, "--threads", "1", "--max-wait-ms", "200"]);
  const pending = post(port, "/classify", { inputs: ["the fish swims"] }); // waits up to 200 ms for company
  await new Promise((r) => setTimeout(r, 50));
  child.kill("SIGTERM");
  const r = await pending;
  assert.equal(r.status, 200);
  assert.equal(await exited, 0);
  assert.match(output(), /closed after 1 requests, 1 inputs in 1 batches; answers by status: 200: 1/);
});
