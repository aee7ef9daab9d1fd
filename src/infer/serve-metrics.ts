/**
 * The request and batch metrics of `electra serve`, in the Prometheus text format at GET /metrics (prom-client,
 * one registry per server, so that servers in one process do not share counts):
 *
 *   electra_http_requests_total{route,status}          answered requests (status 499: the client left first)
 *   electra_http_request_duration_seconds{route}       arrival to answer, a histogram
 *   electra_batches_total{route,outcome}               model runs, outcome ok | failed
 *   electra_batch_inputs{route}                        inputs per model run, a histogram
 *   electra_batch_duration_seconds{route}              one model run, a histogram
 *   electra_batch_retries_total{route}                 requests re-run alone after their batch failed
 *   electra_queue_inputs                               inputs accepted and waiting to run
 *   electra_model_ready                                1 once the model is loaded, 0 before and while closing
 *
 * plus prom-client's default process metrics (CPU, memory, event-loop lag, GC). `route` is a pipeline's name,
 * health, ready, metrics or other (any unknown path: the label's values stay few).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

const SECONDS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

export class ServeMetrics {
  readonly registry = new Registry();
  readonly requests: Counter<"route" | "status">;
  readonly latency: Histogram<"route">;
  readonly batches: Counter<"route" | "outcome">;
  readonly batchInputs: Histogram<"route">;
  readonly batchSeconds: Histogram<"route">;
  readonly retries: Counter<"route">;
  readonly queue: Gauge;
  readonly ready: Gauge;

  constructor(maxBatch: number) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.requests = new Counter({ name: "electra_http_requests_total", help: "Answered HTTP requests by route and status (499: the client left first)", labelNames: ["route", "status"], registers });
    this.latency = new Histogram({ name: "electra_http_request_duration_seconds", help: "Request latency, arrival to answer", labelNames: ["route"], buckets: SECONDS, registers });
    this.batches = new Counter({ name: "electra_batches_total", help: "Model runs by route and outcome (ok, failed)", labelNames: ["route", "outcome"], registers });
    const sizes: number[] = [];
    for (let b = 1; b < maxBatch; b *= 2) sizes.push(b);
    this.batchInputs = new Histogram({ name: "electra_batch_inputs", help: "Inputs per model run", labelNames: ["route"], buckets: [...sizes, maxBatch], registers });
    this.batchSeconds = new Histogram({ name: "electra_batch_duration_seconds", help: "Duration of one model run", labelNames: ["route"], buckets: SECONDS, registers });
    this.retries = new Counter({ name: "electra_batch_retries_total", help: "Requests run alone after the batch they were in failed", labelNames: ["route"], registers });
    this.queue = new Gauge({ name: "electra_queue_inputs", help: "Inputs accepted and waiting to run", registers });
    this.ready = new Gauge({ name: "electra_model_ready", help: "1 when the model is loaded and the server is not closing", registers });
  }

  /** One answered request. */
  answered(route: string, status: number, seconds: number): void {
    this.requests.inc({ route, status: String(status) });
    this.latency.observe({ route }, seconds);
  }

  /** One model run of `inputs` inputs. */
  batch(route: string, inputs: number, seconds: number, ok: boolean): void {
    this.batches.inc({ route, outcome: ok ? "ok" : "failed" });
    this.batchInputs.observe({ route }, inputs);
    this.batchSeconds.observe({ route }, seconds);
  }
}
