/**
 * HTTP JSON serving of one ELECTRA folder (node:http, no framework: four JSON routes need none).
 *
 *   GET  /health                      {"status":"ok","kind":...,"model":...}
 *   POST /classify   {"inputs": ["text" | ["a","b"], ...]}                 -> {"results": [Classification...]}
 *   POST /ner        {"inputs": ["text", ...], "aggregation"?: "simple"}   -> {"results": [[Entity...]...]}
 *   POST /qa         {"inputs": [{"question", "context"}], "top_k"?: 1}    -> {"results": [[Answer...]...]}
 *   POST /multiple-choice {"inputs": [{"context", "choices": [...]}]}     -> {"results": [ChoiceResult...]}
 *   POST /detect     {"inputs": [...], "threshold"?: 0.5}                  -> {"results": [[DetectedToken...]...]}
 *   POST /fill-mask  {"inputs": ["... [MASK] ..."], "top_k"?: 5}            -> {"results": [[[MaskCandidate...]...]...]}
 *   POST /embed      {"inputs": [...], "pooling"?: "mean" | "cls"}         -> {"results": [[number...]...]}
 *
 * The routes are the pipelines of src/infer/pipelines.ts. Dynamic batching: inputs of concurrent requests to the same route (and options) wait up to maxWaitMs in a
 * queue and run as one batch of at most maxBatch inputs; each request gets its own slice back. The model runs
 * one batch at a time. Bad input is a 4xx with {"error": "..."}; shutdown stops accepting, finishes what was
 * queued, then closes.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { Electra, TextInput } from "./electra.js";
import { findPipeline, PIPELINES, PipelineInputError, type Pipeline } from "./pipelines.js";

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
}

class HttpError extends Error {
  constructor(readonly status: number, message: string) {
    super(message);
  }
}


interface Pending {
  inputs: TextInput[];
  resolve: (r: unknown[]) => void;
  reject: (e: Error) => void;
}

interface Queue {
  route: Pipeline;
  option: string | number;
  items: Pending[];
  count: number;
  timer: NodeJS.Timeout | null;
}

export class ElectraServer {
  readonly server: Server;
  private queues = new Map<string, Queue>();
  private running: Promise<void> = Promise.resolve();
  private inFlight = 0;
  private closing = false;
  readonly opts: Required<ServeOptions>;
  /** batches run and inputs served, for tests and logs */
  stats = { batches: 0, inputs: 0, requests: 0, errors: 0 };

  constructor(readonly model: Electra, opts: ServeOptions) {
    this.opts = {
      host: "127.0.0.1", maxBatch: 32, maxWaitMs: 5, maxBodyBytes: 1 << 20, maxInputs: 256, maxInputChars: 20000, ...opts,
    };
    this.server = createServer((req, res) => void this.handle(req, res));
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

  /** Stops accepting connections, lets queued and running batches finish, then resolves. */
  async close(): Promise<void> {
    this.closing = true;
    const closed = new Promise<void>((r) => this.server.close(() => r()));
    for (const q of this.queues.values()) this.flush(q);
    this.server.closeIdleConnections?.();
    while (this.inFlight > 0) await this.running;
    await closed;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.requests++;
    try {
      const url = new URL(req.url ?? "/", "http://x");
      if (req.method === "GET" && url.pathname === "/health") {
        return send(res, 200, { status: this.closing ? "closing" : "ok", kind: this.model.kind, model: this.model.dir });
      }
      const route = findPipeline(url.pathname.slice(1));
      if (!route) throw new HttpError(404, `no route ${url.pathname}; routes: /health, ${PIPELINES.map((p) => `/${p.name}`).join(", ")}`);
      if (req.method !== "POST") throw new HttpError(405, `${url.pathname} takes POST with a JSON body`);
      if (route.kind && route.kind !== this.model.kind) throw new HttpError(400, `/${route.name} needs a ${route.kind} model; this server holds a ${this.model.kind}`);
      if (this.closing) throw new HttpError(503, "the server is shutting down");
      const body = await readJson(req, this.opts.maxBodyBytes);
      const inputs = this.checkInputs(body, route);
      let option: string | number;
      try {
        option = route.option(body);
      } catch (e) {
        throw e instanceof PipelineInputError ? new HttpError(400, e.message) : e;
      }
      const results = await this.enqueue(route, option, inputs);
      send(res, 200, { results });
    } catch (e) {
      this.stats.errors++;
      const err = e instanceof HttpError ? e : new HttpError(500, `internal error: ${(e as Error).message}`);
      send(res, err.status, { error: err.message });
    }
  }

  private checkInputs(body: Record<string, unknown>, route: Pipeline): TextInput[] {
    const inputs = body.inputs;
    if (!Array.isArray(inputs) || inputs.length === 0) {
      throw new HttpError(400, `"inputs" must be a non-empty array of ${route.inputHelp ?? `texts${route.pairs ? " or [text, text] pairs" : ""}`}`);
    }
    if (inputs.length > this.opts.maxInputs) throw new HttpError(413, `${inputs.length} inputs in one request; the limit is ${this.opts.maxInputs}`);
    return inputs.map((x, i) => {
      if (route.parse) {
        let v: unknown;
        try {
          v = route.parse(x, i);
        } catch (e) {
          throw e instanceof PipelineInputError ? new HttpError(400, e.message) : e;
        }
        const len = JSON.stringify(v).length;
        if (len > this.opts.maxInputChars) throw new HttpError(413, `inputs[${i}] has ${len} characters; the limit is ${this.opts.maxInputChars}`);
        return v as TextInput;
      }
      const ok = typeof x === "string" || (route.pairs && Array.isArray(x) && x.length === 2 && x.every((y) => typeof y === "string"));
      if (!ok) throw new HttpError(400, `inputs[${i}] must be a string${route.pairs ? " or a [string, string] pair" : ""}`);
      const len = typeof x === "string" ? x.length : x[0].length + x[1].length;
      if (len > this.opts.maxInputChars) throw new HttpError(413, `inputs[${i}] has ${len} characters; the limit is ${this.opts.maxInputChars}`);
      if (route.marker && !(x as string).includes(route.marker)) throw new HttpError(400, `inputs[${i}] has no ${route.marker}`);
      return x as TextInput;
    });
  }

  private enqueue(route: Pipeline, option: string | number, inputs: TextInput[]): Promise<unknown[]> {
    return new Promise((resolve, reject) => {
      const key = `${route.name}\u0000${option}`;
      let q = this.queues.get(key);
      if (!q) {
        q = { route, option, items: [], count: 0, timer: null };
        this.queues.set(key, q);
      }
      q.items.push({ inputs, resolve, reject });
      q.count += inputs.length;
      if (q.count >= this.opts.maxBatch) this.flush(q);
      else if (!q.timer) q.timer = setTimeout(() => this.flush(q!), this.opts.maxWaitMs);
    });
  }

  /** Takes the queue's requests and chains their batch behind the one running. */
  private flush(q: Queue): void {
    if (q.timer) clearTimeout(q.timer);
    q.timer = null;
    if (!q.items.length) return;
    const items = q.items;
    q.items = [];
    q.count = 0;
    this.inFlight++;
    this.running = this.running.then(async () => {
      try {
        // split into runs of at most maxBatch inputs (a single request may be larger than maxBatch)
        const all = items.flatMap((p) => p.inputs);
        const results: unknown[] = [];
        for (let s = 0; s < all.length; s += this.opts.maxBatch) {
          results.push(...(await q.route.run(this.model, all.slice(s, s + this.opts.maxBatch), q.option)));
          this.stats.batches++;
        }
        this.stats.inputs += all.length;
        let at = 0;
        for (const p of items) {
          p.resolve(results.slice(at, at + p.inputs.length));
          at += p.inputs.length;
        }
      } catch (e) {
        for (const p of items) p.reject(e instanceof HttpError ? e : new HttpError(400, (e as Error).message));
      } finally {
        this.inFlight--;
      }
    });
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
    req.on("data", (c: Buffer) => {
      size += c.length;
      if (size > limit) {
        reject(new HttpError(413, `request body exceeds the ${limit}-byte limit`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
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

function send(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  const s = JSON.stringify(body);
  res.writeHead(status, { "content-type": "application/json", "content-length": Buffer.byteLength(s) });
  res.end(s);
}
