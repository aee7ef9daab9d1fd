/** `warmUp` and `electra serve --warmup`: each kind's pipeline runs its example input as a request would. */
import { test } from "node:test";
import assert from "node:assert/strict";
import { Electra, PIPELINES, pipelineFor, warmUp } from "../../src/index.js";
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
    const w = await warmUp(m, 4, 60_000);
    assert.equal(w.pipeline, pipeline, kind);
    assert.equal(w.passes, 4, kind);
    assert.ok(w.ms >= 0, kind);
  }
  // every pipeline's example is one its validation takes (for the kinds above, and embed on any model)
  const gen = await Electra.load(tinyModel("generator"), { threads: 1 });
  const embed = PIPELINES.find((p) => p.name === "embed")!;
  assert.deepEqual(await embed.validate(gen, embed.example, 0, { maxInputChars: 100 }), "the dog barks");
});

test("warm-up stops at its time limit and runs nothing for 0 passes", async () => {
  const m = await Electra.load(tinyModel("classifier"), { threads: 1 });
  assert.equal((await warmUp(m, 1_000_000, 0)).passes, 0);
  assert.equal((await warmUp(m, 0, 60_000)).passes, 0);
  const w = await warmUp(m, 1_000_000, 150);
  assert.ok(w.passes > 0 && w.passes < 1_000_000 && w.ms >= 150, JSON.stringify(w));
});

test("electra serve warms up before it listens, as --warmup says", async () => {
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
  const none = await startServe(["--model", tinyModel("classifier"), "--threads", "1", "--warmup", "0"]);
  try {
    assert.doesNotMatch(none.output(), /warmed up/);
  } finally {
    none.child.kill("SIGTERM");
    await none.exited;
  }
});
