/**
 * What the load runs of `electra serve` share: `startServe` runs `electra serve` as a child process on a free
 * port; `smallModel` saves an ELECTRA-Small-sized model with random weights (the speed does not depend on the
 * values) and the BERT uncased vocabulary from ../shared when present, else the demo's vocabulary.
 *
 * The fault load (issue 20), of the short test test/infer/server-isolation.test.ts and the long run
 * bench/serve-faults.ts: `faultLoad` runs C clients on loopback, each sending /fill-mask requests back to back, one in
 * `badEvery` of them bad (an over-long text, no [MASK], not a string, broken JSON, too many inputs, a bad
 * option, one bad input among good ones, the wrong route); it sends the server SIGTERM after S seconds and stops
 * when the server has exited (or after D seconds). Each answer is checked: a good request must be 200 with the
 * results a direct Electra call gave, a bad one its 4xx. After the SIGTERM, a connection refused, or reset
 * before the server read the request, is "not accepted"; the server's own count of requests and answers (its
 * closing line) must match the answers the clients got, so that nothing accepted was dropped.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { Rng } from "../src/core/rng.js";
import { generateDocument, syntheticVocabulary } from "../src/data/synthetic.js";
import type { Electra, MaskCandidate } from "../src/infer/electra.js";
import { saveHfFolder } from "../src/io/hf-folder.js";
import { parseConfig } from "../src/model/config.js";
import { createModel } from "../src/model/electra.js";
import { initParams } from "../src/model/params.js";

/** An ELECTRA-Small-sized classifier (two labels) or generator in a fresh folder. */
export function smallModel(kind: "classifier" | "generator"): string {
  const dir = mkdtempSync(join(tmpdir(), "electra-serve-load-"));
  const bert = resolve(process.cwd(), "..", "shared", "data", "models", "google-electra-small-discriminator", "vocab.txt");
  let vocab = join(dir, "vocab.txt"), V = 30522;
  if (existsSync(bert)) vocab = bert;
  else {
    writeFileSync(vocab, syntheticVocabulary().join("\n") + "\n");
    V = syntheticVocabulary().length;
  }
  const cfg = parseConfig({ vocab_size: V, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4, intermediate_size: 1024,
    ...(kind === "classifier" ? { id2label: { 0: "negative", 1: "positive" } } : {}) });
  const m = createModel(kind, cfg);
  initParams(m.store, 0.02, 1);
  const model = join(dir, "model");
  saveHfFolder(model, m.store, cfg, { architecture: kind === "classifier" ? "ElectraForSequenceClassification" : "ElectraForMaskedLM", tokenizerFiles: [vocab] });
  return model;
}

export interface Served {
  child: ChildProcess;
  port: number;
  /** standard output and error so far */
  output(): string;
  exited: Promise<number | null>;
}

/** `electra serve ARGS --port 0` from dist/, resolved once it says it listens with the model loaded. */
export async function startServe(args: string[]): Promise<Served> {
  const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
  const child = spawn(process.execPath, [cli, "serve", ...args, "--port", "0"], { stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  const exited = new Promise<number | null>((r) => child.on("exit", (c) => r(c)));
  const port = await new Promise<number>((resolve, reject) => {
    const read = (d: Buffer) => {
      out += d.toString();
      const m = /listening on http:\/\/[^\s:]+:(\d+)/.exec(out);
      if (m) resolve(Number(m[1]));
    };
    child.stdout!.on("data", read);
    child.stderr!.on("data", read);
    void exited.then((c) => reject(new Error(`electra serve exited (${c}) before listening:\n${out}`)));
  });
  return { child, port, output: () => out, exited };
}

/** The value at percentile p of ascending values (0 when there are none). */
export function percentile(sorted: readonly number[], p: number): number {
  return sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] : 0;
}

/** A good /fill-mask text and what Electra.fillMask gives it alone. */
export interface GoodText {
  text: string;
  want: MaskCandidate[][];
}

/** n sentences of the demo's world, each with one word replaced by [MASK], and what `model` fills in alone. */
export async function goodTexts(model: Electra, n: number, topK: number, seed = 5): Promise<GoodText[]> {
  const rng = new Rng(seed), out: GoodText[] = [];
  while (out.length < n) {
    const words = generateDocument(rng)[0].split(" ");
    words[rng.randint(0, words.length - 1)] = "[MASK]";
    const text = words.join(" ");
    const [want] = await model.fillMask([text], topK);
    out.push({ text, want });
  }
  return out;
}

/** A text with a [MASK] that is longer than `model` takes. */
export function overlongText(model: Electra): string {
  return "the dog barks ".repeat(Math.ceil(model.maxLength / 3) + 1) + "[MASK]";
}

export interface FaultLoadOptions {
  served: Served;
  clients: number;
  /** the longest the load runs */
  seconds: number;
  /** when the server gets SIGTERM */
  sigtermAfterS: number;
  good: readonly GoodText[];
  /** a text with a [MASK] that is longer than the model takes */
  overlong: string;
  /** the server's --max-inputs */
  maxInputs: number;
  topK: number;
  /** one request in badEvery is bad */
  badEvery: number;
}

interface Tally {
  sent: number;
  answered: number;
  /** answers by status */
  status: Record<string, number>;
  /** answers that were not what they should be */
  wrong: number;
}

export interface FaultReport {
  clients: number;
  seconds: number;
  sigterm_at_s: number;
  sent: number;
  answered: number;
  /** good requests (200 with the direct results is right) */
  good: Tally;
  /** bad requests by cause (their 4xx is right) */
  bad: Record<string, Tally & { expect: number }>;
  /** after the SIGTERM: connections the server no longer took */
  not_accepted: { refused: number; reset: number };
  /** network errors before the SIGTERM, and requests the server counted but no client got an answer to */
  dropped: number;
  latency_ms: { good_p50: number; good_p99: number; good_max: number; bad_p50: number; bad_p99: number };
  server: { requests: number; answers: Record<string, number>; exit_code: number | null; shutdown_ms: number };
  /** what is wrong, empty when the run passed */
  problems: string[];
}

const tally = (): Tally => ({ sent: 0, answered: 0, status: {}, wrong: 0 });

/** Whether /fill-mask results match the direct ones: probabilities within tol, ids equal except in a tie. */
export function sameFill(got: unknown, want: readonly MaskCandidate[][], tol = 1e-4): boolean {
  if (!Array.isArray(got) || got.length !== want.length) return false;
  return want.every((w, m) => {
    const g = got[m] as MaskCandidate[];
    if (!Array.isArray(g) || g.length !== w.length) return false;
    const tie = (j: number) => (j > 0 && Math.abs(w[j - 1].probability - w[j].probability) < tol) || (j + 1 < w.length && Math.abs(w[j + 1].probability - w[j].probability) < tol);
    return w.every((c, j) => Math.abs(g[j].probability - c.probability) < tol && (g[j].id === c.id || tie(j)));
  });
}

export async function faultLoad(o: FaultLoadOptions): Promise<FaultReport> {
  const good = o.good, text0 = good[0].text;
  const bads: { name: string; expect: number; path: string; body: string }[] = [
    { name: "over-long text", expect: 422, path: "/fill-mask", body: JSON.stringify({ inputs: [o.overlong], top_k: o.topK }) },
    { name: "no [MASK]", expect: 400, path: "/fill-mask", body: JSON.stringify({ inputs: ["the dog barks"] }) },
    { name: "not a string", expect: 400, path: "/fill-mask", body: JSON.stringify({ inputs: [42] }) },
    { name: "broken JSON", expect: 400, path: "/fill-mask", body: `{"inputs": ["the [MASK]"` },
    { name: "too many inputs", expect: 413, path: "/fill-mask", body: JSON.stringify({ inputs: Array(o.maxInputs + 1).fill(text0) }) },
    { name: "bad top_k", expect: 400, path: "/fill-mask", body: JSON.stringify({ inputs: [text0], top_k: 0 }) },
    { name: "one bad input among good ones", expect: 422, path: "/fill-mask", body: JSON.stringify({ inputs: [text0, o.overlong, text0] }) },
    { name: "wrong route", expect: 400, path: "/classify", body: JSON.stringify({ inputs: [text0] }) },
  ];
  const r: FaultReport = {
    clients: o.clients, seconds: 0, sigterm_at_s: o.sigtermAfterS, sent: 0, answered: 0, good: tally(),
    bad: Object.fromEntries(bads.map((b) => [b.name, { ...tally(), expect: b.expect }])), not_accepted: { refused: 0, reset: 0 }, dropped: 0,
    latency_ms: { good_p50: 0, good_p99: 0, good_max: 0, bad_p50: 0, bad_p99: 0 }, server: { requests: 0, answers: {}, exit_code: null, shutdown_ms: 0 }, problems: [],
  };
  const problem = (s: string) => void (r.problems.length < 10 && r.problems.push(s));
  const goodMs: number[] = [], badMs: number[] = [], byStatus: Record<string, number> = {};
  let exited = false, sigtermAt = 0, next = 0;
  void o.served.exited.then(() => (exited = true));
  const t0 = performance.now(), end = t0 + o.seconds * 1000;
  const timer = setTimeout(() => {
    sigtermAt = performance.now();
    o.served.child.kill("SIGTERM");
  }, o.sigtermAfterS * 1000);

  async function client(): Promise<void> {
    while (!exited && performance.now() < end) {
      const k = next++;
      const bad = k % o.badEvery === o.badEvery - 1 ? bads[Math.floor(k / o.badEvery) % bads.length] : null;
      const g = good[k % good.length];
      const t = bad ? r.bad[bad.name] : r.good;
      t.sent++;
      r.sent++;
      const start = performance.now();
      try {
        const res = await fetch(`http://127.0.0.1:${o.served.port}${bad ? bad.path : "/fill-mask"}`, {
          method: "POST", headers: { "content-type": "application/json" }, body: bad ? bad.body : JSON.stringify({ inputs: [g.text], top_k: o.topK }),
        });
        const body = (await res.json()) as { results?: unknown[]; error?: string };
        (bad ? badMs : goodMs).push(performance.now() - start);
        t.answered++;
        r.answered++;
        t.status[res.status] = (t.status[res.status] ?? 0) + 1;
        byStatus[res.status] = (byStatus[res.status] ?? 0) + 1;
        const right = bad ? res.status === bad.expect && typeof body.error === "string" : res.status === 200 && sameFill(body.results?.[0], g.want);
        if (!right) {
          t.wrong++;
          problem(`${bad?.name ?? `good "${g.text}"`}: ${res.status} ${JSON.stringify(body).slice(0, 160)}`);
        }
      } catch (e) {
        const code = ((e as { cause?: { code?: string } }).cause?.code) ?? (e as Error).message;
        if (!sigtermAt) {
          r.dropped++;
          problem(`network error before the SIGTERM: ${code}`);
        } else if (code === "ECONNREFUSED") {
          r.not_accepted.refused++;
          return; // the server is gone
        } else r.not_accepted.reset++;
      }
    }
  }
  await Promise.all(Array.from({ length: o.clients }, () => client()));
  r.seconds = +((performance.now() - t0) / 1000).toFixed(1);
  clearTimeout(timer);
  if (!sigtermAt) {
    sigtermAt = performance.now();
    o.served.child.kill("SIGTERM");
  }
  r.server.exit_code = await o.served.exited;
  r.server.shutdown_ms = Math.round(performance.now() - sigtermAt);

  // the server's closing line: its requests and answers against the answers the clients got
  const m = /closed after (\d+) requests, \d+ inputs in \d+ batches; answers by status: (.*)/.exec(o.served.output());
  if (!m) problem(`no closing line from the server:\n${o.served.output().slice(-2000)}`);
  else {
    r.server.requests = Number(m[1]);
    for (const part of m[2].split(", ")) {
      const [s, n] = part.split(": ");
      if (n !== undefined) r.server.answers[s] = Number(n);
    }
    const answers = Object.values(r.server.answers).reduce((a, b) => a + b, 0);
    r.dropped += Math.max(0, r.server.requests - r.answered);
    if (answers !== r.server.requests) problem(`the server answered ${answers} of the ${r.server.requests} requests it received`);
    if (JSON.stringify(sortKeys(r.server.answers)) !== JSON.stringify(sortKeys(byStatus))) {
      problem(`the server's answers ${JSON.stringify(r.server.answers)} are not the ones the clients got ${JSON.stringify(byStatus)}`);
    }
  }
  if (r.server.exit_code !== 0) problem(`the server exited with ${r.server.exit_code}`);
  if (r.dropped) problem(`${r.dropped} accepted requests dropped`);
  if (!r.good.answered || Object.values(r.bad).some((b) => !b.answered)) problem("some kind of request was never answered: run longer");
  goodMs.sort((a, b) => a - b);
  badMs.sort((a, b) => a - b);
  const ms = (x: number) => +x.toFixed(1);
  r.latency_ms = {
    good_p50: ms(percentile(goodMs, 50)), good_p99: ms(percentile(goodMs, 99)), good_max: ms(goodMs[goodMs.length - 1] ?? 0),
    bad_p50: ms(percentile(badMs, 50)), bad_p99: ms(percentile(badMs, 99)),
  };
  return r;
}

function sortKeys(o: Record<string, number>): [string, number][] {
  return Object.entries(o).sort(([a], [b]) => a.localeCompare(b));
}
