/**
 * Load test of `electra serve` on loopback: starts the server as a child process on a free port, runs C
 * concurrent clients, each sending one /classify request (one sentence) after another for D seconds, and
 * prints requests/s, latency percentiles and the error count as one JSON line. The model is an
 * ELECTRA-Small-sized classifier with random weights (bench/serve-harness.ts's smallModel).
 *
 *   node dist/bench/serve-load.js [--clients 8] [--seconds 60] [--threads 2] [--model DIR] [--warmup PASSES]
 * --warmup: the server's own (`electra serve --warmup`, default 300); `--clients 1 --seconds 3 --warmup 0`
 * against the default shows what the warm-up keeps out of a fresh server's first requests.
 */
import { parseArgs } from "node:util";
import { Rng } from "../src/core/rng.js";
import { generateDocument } from "../src/data/synthetic.js";
import { percentile, smallModel, startServe } from "./serve-harness.js";

const { values: a } = parseArgs({ options: {
  clients: { type: "string", default: "8" }, seconds: { type: "string", default: "60" }, threads: { type: "string", default: "2" }, model: { type: "string" },
  warmup: { type: "string" },
} });
const clients = Number(a.clients), seconds = Number(a.seconds);
const served = await startServe(["--model", a.model ?? smallModel("classifier"), "--threads", a.threads!, ...(a.warmup === undefined ? [] : ["--warmup", a.warmup])]);

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
      const r = await fetch(`http://127.0.0.1:${served.port}/classify`, { method: "POST", headers: { "content-type": "application/json" },
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
served.child.kill("SIGTERM");
await served.exited;
latencies.sort((x, y) => x - y);
const pct = (p: number) => +percentile(latencies, p).toFixed(1);
console.log(JSON.stringify({
  what: "serve /classify, 1 sentence per request", clients, seconds: +elapsed.toFixed(1), threads: Number(a.threads), requests: latencies.length, errors,
  requests_per_second: +(latencies.length / elapsed).toFixed(1), p50_ms: pct(50), p90_ms: pct(90), p99_ms: pct(99),
  max_ms: +latencies[latencies.length - 1].toFixed(1), first_errors: firstErrors,
}));
if (errors) process.exitCode = 1;
