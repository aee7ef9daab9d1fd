/**
 * HTTP JSON serving of one ELECTRA folder (node:http, no framework: a few JSON routes need none).
 *
 *   GET  /health                      200 {"status": "ok" | "loading" | "closing", "kind", "model"} while the process is up
 *   GET  /ready                       200 {"status": "ready"} once the model is loaded; 503 before, and while closing
 *   GET  /metrics                     request and batch metrics, Prometheus text format (src/infer/serve-metrics.ts)
 *   POST /classify   {"inputs": ["text" | ["a","b"], ...]}                 -> {"results": [Classification...]}
 *   POST /ner        {"inputs": ["text", ...], "aggregation"?: "simple"}   -> {"results": [[Entity...]...]}
 *   POST /qa         {"inputs": [{"question", "context"}], "top_k"?: 1}    -> {"results": [[Answer...]...]}
 *   POST /multiple-choice {"inputs": [{"context", "choices": [...]}]}     -> {"results": [ChoiceResult...]}
 *   POST /detect     {"inputs": [...], "threshold"?: 0.5}                  -> {"results": [[DetectedToken...]...]}
 *   POST /fill-mask  {"inputs": ["... [MASK] ..."], "top_k"?: 5}            -> {"results": [[[MaskCandidate...]...]...]}
 *   POST /embed      {"inputs": [...], "pooling"?: "mean" | "cls"}         -> {"results": [[number...]...]}
 *
 * The routes are the pipelines of src/infer/pipelines.ts. Dynamic batching: inputs of concurrent requests to the
 * same route (and option) wait in a queue until it holds maxBatch inputs or its first has waited maxWaitMs, and
 * the model is free; then up to maxBatch of them run as one batch and each request gets its own slice back. The
 * model runs one batch at a time, the queue whose first request is oldest first.
 *
 * Isolation: one request cannot fail another. Each input is validated (its pipeline's validate) before it joins a
 * queue, so a bad one is a 4xx for its request alone; when a batch still fails in the model, its requests are run
 * again one by one and only the failing ones fail. Errors that are not the client's are 500 with only "internal
 * error, request id ID" in the body, and a line on the log with that id (every answer carries x-request-id: the
 * client's when it sent a plain one, else a new UUID). Every request has a deadline (requestTimeoutMs from its
 * arrival): past it the answer is 504 and, if it is still queued, it leaves the queue unrun. At most maxQueue
 * inputs wait; a request that would pass that is 429 with Retry-After (an empty queue takes any request). Status
 * codes: 400 malformed, 404 / 405 no such route or method, 413 over a size limit, 422 more than the model takes,
 * 429 queue full, 500 internal, 503 model not loaded yet, 504 deadline passed.
 *
 * close() (SIGTERM / SIGINT in the CLI) stops listening, answers every request already received (with
 * "connection: close"), runs what is queued at once, then resolves when the last connection is gone.
 */
import { randomUUID } from "node:crypto";
import { createServer, type IncomingMessage, type OutgoingHttpHeaders, type Server, type ServerResponse } from "node:http";
import type { Electra } from "./electra.js";
import { findPipeline, PIPELINES, PipelineInputError, type Pipeline } from "./pipelines.js";
import { ServeMetrics } from "./serve-metrics.js";

export interface ServeOptions {
  port: number;
  host?: string;
  /** largest batch run at once (inputs) */
  maxBatch?: number;
  /** how long a request may wait for others to join its batch */
  maxWaitMs?: number;
  /** largest request body in bytes */
  maxBodyBytes?: number;
  /** most inputs in one request */
  maxInputs?: number;
  /** longest single input in characters */
  maxInputChars?: number;
  /** a request's deadline, from its arrival to its answer (ms); past it, 504 */
  requestTimeoutMs?: number;
  /** most inputs accepted and waiting to run; a request that would pass it is 429 */
  maxQueue?: number;
  /** where a line about an internal error goes (default: standard error) */
  log?: (line: string) => void;
}

class HttpError extends Error {
  constructor(readonly status: number, message: string, readonly headers: OutgoingHttpHeaders = {}) {
    super(message);
  }
}

/** One request's inputs on their way through a queue and a batch. */
interface Job {
  inputs: unknown[];
  /** performance.now() when it joined its queue */
  queued: number;
  /** the queue it waits in; null once taken (or before it joins) */
  queue: Queue | null;
  /** answered already (deadline, client gone): a job still queued leaves its queue, a running one's result is dropped */
  done: boolean;
  resolve: (results: unknown[]) => void;
  reject: (e: unknown) => void;
}

interface Queue {
  key: string;
  route: Pipeline;
  option: string | number;
  jobs: Job[];
  /** inputs in jobs */
  count: number;
  /** its first job has waited maxWaitMs */
  ripe: boolean;
  timer: NodeJS.Timeout | null;
}

/** a client's x-request-id is kept when it is this plain */
const PLAIN_ID = /^[A-Za-z0-9._:-]{1,128}$/;
const GET_ROUTES = ["health", "ready", "metrics"];

export class ElectraServer {
  readonly server: Server;
  readonly opts: Required<ServeOptions>;
  readonly metrics: ServeMetrics;
  /** requests received, inputs served and batches run; answers by status (499: the client left first) */
  stats = { batches: 0, inputs: 0, requests: 0, errors: 0, failedBatches: 0, retried: 0, byStatus: {} as Record<number, number> };
  private model: Electra | null = null;
  private loadError: Error | null = null;
  private queues = new Map<string, Queue>();
  /** inputs in all queues */
  private waiting = 0;
  private busy = false;
  private closing: Promise<void> | null = null;
  private drained: (() => void) | null = null;
  /** recent seconds per batch (a moving average), for Retry-After */
  private batchSeconds = 0.05;

  /** `model` may still be loading: until it is, /ready is 503 and the pipelines answer 503. */
  constructor(model: Electra | Promise<Electra>, opts: ServeOptions) {
    this.opts = {
      host: "127.0.0.1", maxBatch: 32, maxWaitMs: 5, maxBodyBytes: 1 << 20, maxInputs: 256, maxInputChars: 20000,
      requestTimeoutMs: 30000, maxQueue: 1024, log: (line) => void process.stderr.write(line + "\n"), ...opts,
    };
    this.metrics = new ServeMetrics(this.opts.maxBatch);
    this.server = createServer((req, res) => void this.handle(req, res));
    if (model instanceof Promise) {
      model.then((m) => this.loaded(m), (e: unknown) => {
        this.loadError = e instanceof Error ? e : new Error(String(e));
      });
    } else this.loaded(model);
  }

  private loaded(model: Electra): void {
    this.model = model;
    if (!this.closing) this.metrics.ready.set(1);
  }

  /** The model is loaded and the server is not closing (what GET /ready says). */
  get ready(): boolean {
    return this.model !== null && !this.closing;
  }

  /** Inputs accepted and waiting to run. */
  get queued(): number {
    return this.waiting;
  }

  listen(): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once("error", reject);
      this.server.listen(this.opts.port, this.opts.host, () => {
        const a = this.server.address();
        resolve(typeof a === "object" && a ? a.port : this.opts.port);
      });
    });
  }

  /** Stops accepting connections, answers every request received (queued batches run at once), then resolves. */
  close(): Promise<void> {
    this.closing ??= this.shutDown();
    return this.closing;
  }

  private async shutDown(): Promise<void> {
    this.metrics.ready.set(0);
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    this.server.closeIdleConnections();
    await new Promise<void>((r) => {
      this.drained = r;
      this.schedule();
    });
    // every request still being read has an answer within its deadline; a connection open longer is let go
    this.server.closeIdleConnections();
    const force = setTimeout(() => this.server.closeAllConnections(), this.opts.requestTimeoutMs + 1000);
    await closed;
    clearTimeout(force);
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const t0 = performance.now();
    this.stats.requests++;
    const sent = req.headers["x-request-id"];
    const id = typeof sent === "string" && PLAIN_ID.test(sent) ? sent : randomUUID();
    const path = (req.url ?? "/").split("?")[0];
    const name = path.slice(1);
    const label = findPipeline(name) || GET_ROUTES.includes(name) ? name : "other";
    const job: Job = { inputs: [], queued: 0, queue: null, done: false, resolve: () => {}, reject: () => {} };
    const finish = (status: number) => {
      job.done = true;
      clearTimeout(deadline);
      this.unqueue(job);
      this.stats.byStatus[status] = (this.stats.byStatus[status] ?? 0) + 1;
      if (status >= 400) this.stats.errors++;
      this.metrics.answered(label, status, (performance.now() - t0) / 1000);
    };
    const answer = (status: number, body: unknown, headers: OutgoingHttpHeaders = {}) => {
      if (job.done) return;
      finish(status);
      send(res, status, body, { "x-request-id": id, ...headers, ...(this.closing ? { connection: "close" } : {}) });
    };
    const deadline = setTimeout(() => answer(504, { error: `no answer within the ${this.opts.requestTimeoutMs} ms request deadline` }), this.opts.requestTimeoutMs);
    res.once("close", () => {
      if (!job.done) finish(499); // the client left before its answer
    });
    try {
      if (GET_ROUTES.includes(name)) {
        if (req.method !== "GET") throw new HttpError(405, `${path} takes GET`);
        if (name === "metrics") return answer(200, await this.metrics.registry.metrics(), { "content-type": this.metrics.registry.contentType });
        const model = this.model;
        if (name === "health") return answer(200, { status: this.closing ? "closing" : model ? "ok" : "loading", kind: model?.kind ?? null, model: model?.dir ?? null });
        if (this.ready) return answer(200, { status: "ready" });
        return answer(503, { status: this.closing ? "closing" : this.loadError ? "failed" : "loading", ...(this.loadError ? { error: this.loadError.message } : {}) });
      }
      answer(200, { results: await this.predict(req, path, job) });
    } catch (e) {
      if (e instanceof HttpError) return answer(e.status, { error: e.message }, e.headers);
      if (e instanceof PipelineInputError) return answer(e.status, { error: e.message });
      const err = e instanceof Error ? e : new Error(String(e));
      this.opts.log(`electra serve: request ${id} ${req.method} ${path}: internal error: ${err.message}${process.env.ELECTRA_DEBUG ? `\n${err.stack}` : ""}`);
      answer(500, { error: `internal error, request id ${id}` });
    }
  }

  /** A pipeline request: its body read and each input validated, then queued; resolves with its results. */
  private async predict(req: IncomingMessage, path: string, job: Job): Promise<unknown[]> {
    const route = findPipeline(path.slice(1));
    if (!route) throw new HttpError(404, `no route ${path}; routes: GET /health, /ready, /metrics; POST ${PIPELINES.map((p) => `/${p.name}`).join(", ")}`);
    if (req.method !== "POST") throw new HttpError(405, `${path} takes POST with a JSON body`);
    const model = this.model;
    if (!model) throw new HttpError(503, this.loadError ? `the model failed to load: ${this.loadError.message}` : "the model is still loading", { "retry-after": "1" });
    if (route.kind && route.kind !== model.kind) throw new HttpError(400, `/${route.name} needs a ${route.kind} model; this server holds a ${model.kind}`);
    const body = await readJson(req, this.opts.maxBodyBytes);
    const inputs = body.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) throw new HttpError(400, `"inputs" must be a non-empty array of ${route.inputHelp}`);
    if (inputs.length > this.opts.maxInputs) throw new HttpError(413, `${inputs.length} inputs in one request; the limit is ${this.opts.maxInputs}`);
    const option = route.option(body);
    const limits = { maxInputChars: this.opts.maxInputChars };
    job.inputs = await Promise.all(inputs.map((x, i) => route.validate(model, x, i, limits)));
    if (job.done) return []; // its deadline passed meanwhile: answered already
    if (this.waiting > 0 && this.waiting + inputs.length > this.opts.maxQueue) {
      const wait = Math.max(1, Math.ceil((this.waiting / this.opts.maxBatch) * this.batchSeconds));
      throw new HttpError(429, `the queue is full (${this.waiting} inputs waiting, the limit is ${this.opts.maxQueue}); retry in ${wait} s`, { "retry-after": String(wait) });
    }
    return new Promise((resolve, reject) => {
      job.resolve = resolve;
      job.reject = reject;
      this.enqueue(route, option, job);
    });
  }

  private enqueue(route: Pipeline, option: string | number, job: Job): void {
    const key = `${route.name}\u0000${option}`;
    let q = this.queues.get(key);
    if (!q) {
      q = { key, route, option, jobs: [], count: 0, ripe: false, timer: null };
      this.queues.set(key, q);
    }
    job.queue = q;
    job.queued = performance.now();
    q.jobs.push(job);
    this.count(q, job.inputs.length);
    this.arm(q);
    this.schedule();
  }

  /** Takes a job that was answered early (deadline, client gone) out of its queue. */
  private unqueue(job: Job): void {
    const q = job.queue;
    if (!q) return;
    job.queue = null;
    q.jobs.splice(q.jobs.indexOf(job), 1);
    this.count(q, -job.inputs.length);
    this.tidy(q);
  }

  private count(q: Queue, n: number): void {
    q.count += n;
    this.waiting += n;
    this.metrics.queue.set(this.waiting);
  }

  /** Starts the maxWaitMs timer of a queue whose first job is not ripe yet. */
  private arm(q: Queue): void {
    if (!q.jobs.length || q.ripe || q.timer) return;
    const left = q.jobs[0].queued + this.opts.maxWaitMs - performance.now();
    q.timer = setTimeout(() => {
      q.timer = null;
      q.ripe = true;
      this.schedule();
    }, Math.max(0, left));
  }

  /** An empty queue goes (its key may be any option value). */
  private tidy(q: Queue): void {
    if (q.jobs.length) return;
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    q.ripe = false;
    this.queues.delete(q.key);
  }

  /** When the model is free: runs the batch of the ready queue whose first job is oldest. */
  private schedule(): void {
    if (this.busy) return;
    let next: Queue | undefined;
    for (const q of this.queues.values()) {
      if (!(q.ripe || q.count >= this.opts.maxBatch || this.closing)) continue;
      if (!next || q.jobs[0].queued < next.jobs[0].queued) next = q;
    }
    if (!next) {
      if (this.waiting === 0) this.drained?.();
      return;
    }
    const jobs: Job[] = [];
    let n = 0;
    while (next.jobs.length && (n === 0 || n + next.jobs[0].inputs.length <= this.opts.maxBatch)) {
      const j = next.jobs.shift()!;
      j.queue = null;
      n += j.inputs.length;
      jobs.push(j);
    }
    this.count(next, -n);
    this.tidy(next);
    this.arm(next);
    this.busy = true;
    void this.runBatch(next, jobs).finally(() => {
      this.busy = false;
      this.schedule();
    });
  }

  /** Runs the jobs' inputs as one batch; if it fails, each job alone, so that only the failing ones fail. */
  private async runBatch(q: Queue, jobs: Job[]): Promise<void> {
    try {
      const results = await this.run(q, jobs.flatMap((j) => j.inputs));
      let at = 0;
      for (const j of jobs) j.resolve(results.slice(at, (at += j.inputs.length)));
    } catch (e) {
      if (jobs.length === 1) return jobs[0].reject(e);
      this.opts.log(`electra serve: a /${q.route.name} batch of ${jobs.length} requests failed (${(e as Error)?.message ?? e}); running each alone`);
      for (const j of jobs) {
        if (j.done) continue; // answered meanwhile (deadline)
        this.stats.retried++;
        this.metrics.retries.inc({ route: q.route.name });
        try {
          j.resolve(await this.run(q, j.inputs));
        } catch (e2) {
          j.reject(e2);
        }
      }
    }
  }

  /** The model on `inputs`, in runs of at most maxBatch (one request may hold more). */
  private async run(q: Queue, inputs: unknown[]): Promise<unknown[]> {
    const results: unknown[] = [];
    for (let s = 0; s < inputs.length; s += this.opts.maxBatch) {
      const part = inputs.slice(s, s + this.opts.maxBatch);
      const t0 = performance.now();
      let ok = false;
      try {
        const r = await q.route.run(this.model!, part, q.option);
        if (r.length !== part.length) throw new Error(`/${q.route.name} gave ${r.length} results for ${part.length} inputs`);
        results.push(...r);
        ok = true;
      } finally {
        const seconds = (performance.now() - t0) / 1000;
        this.metrics.batch(q.route.name, part.length, seconds, ok);
        this.batchSeconds = 0.8 * this.batchSeconds + 0.2 * seconds;
        if (ok) this.stats.batches++;
        else this.stats.failedBatches++;
      }
    }
    this.stats.inputs += inputs.length;
    return results;
  }
}

function readJson(req: IncomingMessage, limit: number): Promise<Record<string, unknown>> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers["content-length"] ?? 0);
    if (declared > limit) {
      reject(new HttpError(413, `request body of ${declared} bytes exceeds the ${limit}-byte limit`));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    const take = (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        // the rest is read and dropped; the answer closes the connection
        reject(new HttpError(413, `request body exceeds the ${limit}-byte limit`, { connection: "close" }));
        req.off("data", take);
        req.resume();
        return;
      }
      chunks.push(c);
    };
    req.on("data", take);
    req.on("error", (e) => reject(new HttpError(400, `reading the request failed: ${e.message}`)));
    req.on("end", () => {
      try {
        const v = JSON.parse(Buffer.concat(chunks).toString("utf8"));
        if (typeof v !== "object" || v === null || Array.isArray(v)) throw new Error("not an object");
        resolve(v as Record<string, unknown>);
      } catch (e) {
        reject(new HttpError(400, `the body must be a JSON object (${(e as Error).message})`));
      }
    });
  });
}

/** Answers once: JSON, or a string as it is (give its content-type). */
function send(res: ServerResponse, status: number, body: unknown, headers: OutgoingHttpHeaders): void {
  if (res.headersSent || res.destroyed) return;
  const s = typeof body === "string" ? body : JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", ...headers, "content-length": Buffer.byteLength(s) });
  res.end(s);
}
