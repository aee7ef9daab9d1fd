/** `warmUp` and `electra serve --warmup`: each kind's pipeline runs its example input as a request would. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { join } from "node:path";
import { Electra, pipelineFor, warmUp } from "../../src/index.js";
import { startServe } from "../../bench/serve-harness.js";
import { tinyModel } from "../helpers/serve.js";

const KINDS = [
  ["classifier", "classify"], ["token-classifier", "ner"], ["discriminator", "detect"], ["generator", "fill-mask"],
  ["question-answering", "qa"], ["multiple-choice", "multiple-choice"], ["encoder", "embed"],
] as const;

test("every kind warms up through its own pipeline, on an example its validation accepts", async () => {
  for (const [kind, pipeline] of KINDS) {
    const m = await Electra.load(tinyModel(kind), { threads: 1 });
    assert.equal(m.kind, kind);
    assert.equal(pipelineFor(kind).name, pipeline);
    // validate and run throw on an example the pipeline refuses, so 4 passes means 4 accepted runs
    const w = await warmUp(m, 4, 60_000);
    assert.deepEqual([w.pipeline, w.passes], [pipeline, 4], kind);
  }
});

test("warm-up stops at its time limit and runs nothing for 0 passes", async () => {
  const m = await Electra.load(tinyModel("classifier"), { threads: 1 });
  assert.equal((await warmUp(m, 1_000_000, 0)).passes, 0);
  assert.equal((await warmUp(m, 0, 60_000)).passes, 0);
  const w = await warmUp(m, 1_000_000, 150);
  assert.ok(w.passes > 0 && w.passes < 1_000_000 && w.ms >= 150, JSON.stringify(w));
  // an example the model refuses is an error of warmUp (the CLI turns it into a line and serves anyway)
  const short = await Electra.load(tinyModel("generator"), { threads: 1, maxLength: 4 });
  await assert.rejects(warmUp(short, 3, 60_000), /inputs\[0\] is 5 tokens with \[CLS\] and \[SEP\]; the model takes at most 4/);
});

test("electra serve is not ready until the warm-up has run, as --warmup says", async () => {
  const served = await startServe(["--model", tinyModel("classifier"), "--threads", "1", "--warmup", "7"]);
  try {
    const out = served.output();
    assert.match(out, /warmed up: 7 passes of \/classify in \d+\.\d s/);
    assert.ok(out.indexOf("warmed up") < out.indexOf("listening on"), out);
    assert.equal((await fetch(`http://127.0.0.1:${served.port}/ready`)).status, 200);
  } finally {
    served.child.kill("SIGTERM");
    await served.exited;
  }
  // a long warm-up: /ready is 503 while it runs, 200 after
  const cli = join(process.cwd(), "dist", "src", "cli", "main.js");
  const child = spawn(process.execPath, [cli, "serve", "--model", tinyModel("classifier"), "--threads", "1", "--port", "0", "--warmup", "100000000", "--warmup-ms", "2500"]);
  let out = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  const exited = new Promise((r) => child.on("exit", r));
  try {
    while (!/\(port (\d+)/.test(out)) await new Promise((r) => setTimeout(r, 20));
    const port = Number(/\(port (\d+)/.exec(out)![1]);
    const during = await fetch(`http://127.0.0.1:${port}/ready`);
    assert.equal(during.status, 503);
    assert.doesNotMatch(out, /warmed up/);
    while (!/listening on/.test(out)) await new Promise((r) => setTimeout(r, 50));
    assert.match(out, /warmed up: \d+ passes of \/classify/);
    assert.equal((await fetch(`http://127.0.0.1:${port}/ready`)).status, 200);
  } finally {
    child.kill("SIGTERM");
    await exited;
  }
});

test("electra serve skips a warm-up whose example the model refuses, and serves", async () => {
  const served = await startServe(["--model", tinyModel("generator"), "--threads", "1", "--max-seq-length", "4"]);
  try {
    assert.match(served.output(), /warm-up skipped: its example input failed: inputs\[0\] is 5 tokens/);
    assert.equal((await fetch(`http://127.0.0.1:${served.port}/ready`)).status, 200);
  } finally {
    served.child.kill("SIGTERM");
    await served.exited;
  }
  const none = await startServe(["--model", tinyModel("classifier"), "--threads", "1", "--warmup", "0"]);
  try {
    assert.doesNotMatch(none.output(), /warm/);
  } finally {
    none.child.kill("SIGTERM");
    await none.exited;
  }
});
