/**
 * Request isolation in `electra serve` (issue 20): a bad input fails its own request before it joins a batch;
 * a batch that fails in the model is run again request by request; internal errors are 500 with a request id;
 * deadlines (504), the bounded queue (429 with Retry-After), /ready, /metrics; and a short load of good and bad
 * requests with a SIGTERM in the middle, against a real `electra serve` child process.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { request } from "node:http";
import { Electra, type Classification } from "../../src/index.js";
import { ElectraServer, type ServeOptions } from "../../src/infer/server.js";
import { faultLoad, goodTexts, overlongText, sameFill, startServe } from "../../bench/serve-harness.js";
import { post, tinyModel } from "../helpers/serve.js";

const cls = tinyModel("classifier"), gen = tinyModel("generator");

/** A server on a free port for `fn`, closed after it. */
async function withServer(model: Electra | Promise<Electra>, opts: Omit<ServeOptions, "port">, fn: (port: number, s: ElectraServer) => Promise<void>): Promise<void> {
  const server = new ElectraServer(model, { port: 0, ...opts });
  const port = await server.listen();
  try {
    await fn(port, server);
  } finally {
    await server.close();
  }
}

const get = async (port: number, path: string) => {
  const r = await fetch(`http://127.0.0.1:${port}${path}`);
  return { status: r.status, headers: r.headers, text: await r.text() };
};
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test("a bad fill-mask input is refused alone before it joins a batch; the good ones batched with it are answered", async () => {
  const model = await Electra.load(gen, { threads: 1 });
  const good = await goodTexts(model, 5, 3);
  // the batch runs when the five good inputs are in (maxBatch 5); the bad ones never join it
  await withServer(model, { maxWaitMs: 5000, maxBatch: 5 }, async (port, server) => {
    const replies = await Promise.all([
      ...good.map((g) => post(port, "/fill-mask", { inputs: [g.text], top_k: 3 })),
      post(port, "/fill-mask", { inputs: [overlongText(model)], top_k: 3 }),
      post(port, "/fill-mask", { inputs: [good[0].text, "no mask here"], top_k: 3 }),
    ]);
    good.forEach((g, i) => {
      assert.equal(replies[i].status, 200, JSON.stringify(replies[i].json));
      assert.ok(sameFill(replies[i].json.results![0], g.want), `result ${i}`);
    });
    assert.equal(replies[5].status, 422);
    assert.match(replies[5].json.error!, /^inputs\[0\] is \d+ tokens with \[CLS\] and \[SEP\]; the model takes at most 40$/);
    assert.equal(replies[6].status, 400);
    assert.match(replies[6].json.error!, /^inputs\[1\] has no \[MASK\]/);
    assert.equal(server.stats.batches, 1, "the five good requests ran as one batch");
    assert.equal(server.stats.failedBatches, 0);
    assert.equal(server.stats.inputs, 5);
  });
});

test("qa and multiple-choice inputs are checked before batching too: 422 for a question too long for the model, 413 for too many choices", async () => {
  const qa = await Electra.load(tinyModel("question-answering"), { threads: 1 });
  await withServer(qa, { maxWaitMs: 5000, maxBatch: 1 }, async (port) => {
    const [long, ok] = await Promise.all([
      post(port, "/qa", { inputs: [{ question: "where does the dog bark ".repeat(10), context: "the dog barks at the door" }] }),
      post(port, "/qa", { inputs: [{ question: "where does the dog bark", context: "the dog barks at the door" }] }),
    ]);
    assert.equal(long.status, 422);
    assert.equal(long.json.error, "inputs[0].question leaves no room for the context in the model's 40 positions");
    assert.equal(ok.status, 200);
  });
  const mc = await Electra.load(tinyModel("multiple-choice"), { threads: 1 });
  await withServer(mc, {}, async (port) => {
    const many = await post(port, "/multiple-choice", { inputs: [{ context: "the dog", choices: Array(65).fill("barks") }] });
    assert.equal(many.status, 413);
    assert.equal(many.json.error, "inputs[0] has 65 choices; the limit is 64");
    const one = await post(port, "/multiple-choice", { inputs: [{ context: "the dog", choices: ["barks"] }] });
    assert.equal(one.status, 400);
    assert.equal((await post(port, "/multiple-choice", { inputs: [{ context: "the dog", choices: ["barks", "purrs"] }] })).status, 200);
  });
});

test("a batch that fails in the model is run again request by request: only the failing one gets a 500 with its request id", async () => {
  const model = await Electra.load(cls, { threads: 1 });
  const texts = ["the dog barks", "a cat purrs", "the birds sing in the tree", "the owl hunts"];
  const direct = await model.classify(texts);
  const classify = model.classify.bind(model);
  model.classify = async (inputs) => {
    if (inputs.some((x) => x === "boom")) throw new Error("injected failure");
    return classify(inputs);
  };
  const log: string[] = [];
  await withServer(model, { maxWaitMs: 5000, maxBatch: 6, log: (l) => log.push(l) }, async (port, server) => {
    const [boom, boom2, ...replies] = await Promise.all([
      post(port, "/classify", { inputs: ["boom"] }),
      post(port, "/classify", { inputs: ["boom"] }, undefined, { "x-request-id": "client-42" }),
      ...texts.map((t) => post(port, "/classify", { inputs: [t] })),
    ]);
    replies.forEach((r, i) => {
      assert.equal(r.status, 200);
      const got = r.json.results![0] as Classification;
      assert.equal(got.label, direct[i].label);
      assert.ok(Math.abs(got.scores.yes - direct[i].scores.yes) < 1e-5);
    });
    assert.equal(boom.status, 500);
    const id = boom.headers.get("x-request-id")!;
    assert.match(id, /^[0-9a-f-]{36}$/);
    assert.deepEqual(boom.json, { error: `internal error, request id ${id}` });
    assert.equal(boom2.status, 500);
    assert.equal(boom2.headers.get("x-request-id"), "client-42");
    assert.ok(log.some((l) => l.includes(id) && l.includes("injected failure")), log.join("\n"));
    assert.ok(log.some((l) => l.includes("client-42")));
    assert.ok(log.some((l) => /a \/classify batch of 6 requests failed \(injected failure\); running each alone/.test(l)));
    assert.equal(server.stats.retried, 6);
    assert.equal(replies[0].headers.get("x-request-id")?.length, 36);
  });
});

test("a full queue answers 429 with Retry-After; an empty queue takes any request", async () => {
  const model = await Electra.load(cls, { threads: 1 });
  await withServer(model, { maxWaitMs: 1000, maxQueue: 2 }, async (port, server) => {
    const first = post(port, "/classify", { inputs: ["the dog barks", "a cat purrs"] });
    while (server.queued < 2) await sleep(5); // the first two inputs wait for company
    const full = await post(port, "/classify", { inputs: ["the owl hunts"] });
    assert.equal(full.status, 429);
    assert.match(full.json.error!, /^the queue is full \(2 inputs waiting, the limit is 2\); retry in \d+ s$/);
    assert.ok(Number(full.headers.get("retry-after")) >= 1);
    assert.equal((await first).status, 200);
    const big = await post(port, "/classify", { inputs: ["a", "b", "c"] });
    assert.equal(big.status, 200);
    assert.equal(big.json.results!.length, 3);
  });
});

test("a request past its deadline is 504, and one whose deadline passed in the queue is never run", async () => {
  const model = await Electra.load(cls, { threads: 1 });
  await withServer(model, { maxWaitMs: 400, requestTimeoutMs: 100 }, async (port, server) => {
    const t0 = performance.now();
    const r = await post(port, "/classify", { inputs: ["the dog barks"] });
    assert.equal(r.status, 504);
    assert.equal(r.json.error, "no answer within the 100 ms request deadline");
    assert.ok(performance.now() - t0 < 350, "answered at the deadline, not after the batch wait");
    await sleep(450);
    assert.equal(server.stats.inputs, 0, "the expired request left its queue");
    assert.equal(server.stats.batches, 0);
  });
  // a slow model: the deadline passes while its batch runs; the server goes on
  const slow = await Electra.load(cls, { threads: 1 });
  const classify = slow.classify.bind(slow);
  slow.classify = async (inputs) => {
    await sleep(300);
    return classify(inputs);
  };
  await withServer(slow, { maxWaitMs: 0, requestTimeoutMs: 150 }, async (port) => {
    assert.equal((await post(port, "/classify", { inputs: ["the dog barks"] })).status, 504);
    await sleep(200);
    assert.equal((await get(port, "/health")).status, 200);
  });
});

test("a streamed body (no content-length) over the limit is a 413 answer, not a reset connection", async () => {
  const model = await Electra.load(cls, { threads: 1 });
  await withServer(model, { maxBodyBytes: 1000 }, async (port) => {
    const [status, connection, body] = await new Promise<[number | undefined, string | undefined, string]>((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, method: "POST", path: "/classify", headers: { "content-type": "application/json" } }, (r) => {
        let b = "";
        r.on("data", (d: Buffer) => (b += d.toString()));
        r.on("end", () => resolve([r.statusCode, r.headers.connection, b]));
      });
      req.on("error", reject);
      req.write(`{"inputs": ["${"x".repeat(800)}`);
      req.write("y".repeat(800));
      setTimeout(() => req.end(`"]}`), 50);
    });
    assert.equal(status, 413);
    assert.equal(connection, "close");
    assert.deepEqual(JSON.parse(body), { error: "request body exceeds the 1000-byte limit" });
  });
});

test("/ready is 503 until the model is loaded and while closing; /health is 200 throughout", async () => {
  let loaded!: (m: Electra) => void;
  const loading = new Promise<Electra>((r) => (loaded = r));
  const server = new ElectraServer(loading, { port: 0 });
  const port = await server.listen();
  const ready = await get(port, "/ready");
  assert.equal(ready.status, 503);
  assert.deepEqual(JSON.parse(ready.text), { status: "loading" });
  assert.deepEqual(JSON.parse((await get(port, "/health")).text), { status: "loading", kind: null, model: null });
  const early = await post(port, "/classify", { inputs: ["x"] });
  assert.equal(early.status, 503);
  assert.equal(early.headers.get("retry-after"), "1");
  assert.equal(early.json.error, "the model is still loading");
  loaded(await Electra.load(cls, { threads: 1 }));
  await sleep(0);
  assert.equal((await get(port, "/ready")).status, 200);
  assert.deepEqual(JSON.parse((await get(port, "/health")).text), { status: "ok", kind: "classifier", model: cls });
  assert.equal(server.ready, true);
  const closing = server.close();
  assert.equal(server.ready, false);
  await closing;
  // a model that fails to load: /ready says so
  await withServer(Promise.reject(new Error("no such folder")), {}, async (p) => {
    await sleep(0);
    const r = await get(p, "/ready");
    assert.equal(r.status, 503);
    assert.deepEqual(JSON.parse(r.text), { status: "failed", error: "no such folder" });
    assert.match((await post(p, "/classify", { inputs: ["x"] })).json.error!, /^the model failed to load: no such folder$/);
  });
});

/**
 * Prometheus text exposition: every line a comment, a sample of a family declared by # TYPE, or blank. NaN in any
 * case, as Prometheus reads it (Go's ParseFloat): prom-client writes "Nan" for the event-loop lag before its first
 * sample, which a fast run can ask for.
 */
function parsePrometheus(text: string): Map<string, number> {
  const types = new Map<string, string>(), samples = new Map<string, number>();
  for (const line of text.split("\n")) {
    if (line === "") continue;
    const t = /^# TYPE ([a-zA-Z_:][a-zA-Z0-9_:]*) (counter|gauge|histogram|summary|untyped)$/.exec(line);
    if (t) {
      types.set(t[1], t[2]);
      continue;
    }
    if (/^# HELP [a-zA-Z_:][a-zA-Z0-9_:]* .*$/.test(line)) continue;
    // NaN in any case: prom-client writes "Nan" (an event-loop lag gauge before its first sample), which
    // Prometheus parses (Go's ParseFloat takes NaN case-insensitively)
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{(?:[a-zA-Z_][a-zA-Z0-9_]*="(?:[^"\\\n]|\\.)*",?)*\})? (-?[0-9.]+(?:e[+-]?\d+)?|[Nn][Aa][Nn]|[+-]Inf)$/.exec(line);
    assert.ok(m, `not Prometheus text: ${line}`);
    const family = m[1].replace(/_(bucket|sum|count)$/, "");
    assert.ok(types.has(m[1]) || types.has(family), `no # TYPE for ${m[1]}`);
    samples.set(m[1] + (m[2] ?? ""), Number(m[3]));
  }
  return samples;
}

test("/metrics is Prometheus text that counts requests by route and status, batches and the queue", async () => {
  const model = await Electra.load(cls, { threads: 1 });
  await withServer(model, { maxWaitMs: 5000, maxBatch: 3 }, async (port) => {
    await Promise.all([post(port, "/classify", { inputs: ["the dog barks"] }), post(port, "/classify", { inputs: ["a cat", "an owl"] }), post(port, "/classify", { inputs: [7] })]);
    await get(port, "/nope");
    const r = await get(port, "/metrics");
    assert.equal(r.status, 200);
    assert.match(r.headers.get("content-type")!, /^text\/plain; version=0\.0\.4/);
    const m = parsePrometheus(r.text);
    assert.equal(m.get(`electra_http_requests_total{route="classify",status="200"}`), 2);
    assert.equal(m.get(`electra_http_requests_total{route="classify",status="400"}`), 1);
    assert.equal(m.get(`electra_http_requests_total{route="other",status="404"}`), 1);
    assert.equal(m.get(`electra_http_request_duration_seconds_count{route="classify"}`), 3);
    assert.equal(m.get(`electra_batches_total{route="classify",outcome="ok"}`), 1);
    assert.equal(m.get(`electra_batch_inputs_sum{route="classify"}`), 3);
    assert.equal(m.get(`electra_batch_inputs_bucket{le="2",route="classify"}`), 0);
    assert.equal(m.get(`electra_batch_inputs_bucket{le="3",route="classify"}`), 1);
    assert.equal(m.get("electra_queue_inputs"), 0);
    assert.equal(m.get("electra_model_ready"), 1);
    assert.ok(m.has("process_cpu_seconds_total"));
  });
});

test("under load, with a SIGTERM in the middle: good requests right, bad ones 4xx, nothing accepted dropped", async (t) => {
  const model = await Electra.load(gen, { threads: 1 });
  const topK = 3, maxInputs = 8;
  const good = await goodTexts(model, 24, topK);
  const served = await startServe(["--model", gen, "--threads", "1", "--max-inputs", String(maxInputs), "--max-wait-ms", "2"]);
  const r = await faultLoad({ served, clients: 8, seconds: 6, sigtermAfterS: 4, good, overlong: overlongText(model), maxInputs, topK, badEvery: 3 });
  t.diagnostic(JSON.stringify(r));
  assert.deepEqual(r.problems, []);
  assert.equal(r.good.wrong + Object.values(r.bad).reduce((a, b) => a + b.wrong, 0), 0);
  assert.equal(r.dropped, 0);
  assert.equal(r.server.exit_code, 0);
  assert.equal(r.server.requests, r.answered);
  assert.ok(r.good.answered > 50, `${r.good.answered} good requests answered`);
});
