/**
 * The pretraining checkpoint's state file under fuzzing: thousands of mutants of a real trainer-state.json
 * (bytes and JSON-aware changes: types, numbers, fields, truncation) read by readCheckpoint. Every outcome is a
 * checkpoint that validates (its schema, the files' digests, the optimizer's sizes) or one line naming the
 * state file; never a TypeError / RangeError / SyntaxError from deep inside.
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { runPretrain } from "../../src/cli/pretrain.js";
import { readSafetensors } from "../../src/io/safetensors.js";
import { readCheckpoint, STATE_FILE } from "../../src/train/pretrain-checkpoint.js";
import { fuzz, mutateText } from "../helpers/fuzz.js";
import { pretrainScratch } from "../helpers/pretrain.js";

test("fuzz: trainer-state.json (readCheckpoint)", { timeout: 120_000 }, async () => {
  const dir = pretrainScratch("electra-ckfuzz-", { embedding_size: 8, hidden_size: 16, num_hidden_layers: 1, intermediate_size: 32, max_position_embeddings: 32 }, 60, 2);
  const out = join(dir, "out");
  await runPretrain({
    corpus: join(dir, "corpus.txt"), vocab: join(dir, "vocab.txt"), config: join(dir, "config.json"), out, steps: 2, seed: 1, saveEvery: 0,
    resume: false, batchSize: 2, maxSeqLength: 32, logEvery: 1, accumulate: 1, biasCorrection: false, threads: 1,
  }, true);
  const ck = join(out, "checkpoint"), state = join(ck, STATE_FILE);
  const good = new Uint8Array(readFileSync(state));
  const params = readSafetensors(join(ck, "optimizer.safetensors")).tensors.get("m")!.shape[0];
  const step = readCheckpoint(ck, params).state.step;
  let read = 0;
  const tally = fuzz("trainer-state", good, 2000, 901, state, (b) => {
    writeFileSync(state, b);
    const c = readCheckpoint(ck, params);
    // what validates is a usable state: the sizes the resume relies on
    assert.equal(c.m.length, params);
    assert.ok(Number.isInteger(c.state.step) && c.state.step >= 0 && c.state.loader.rngState.length === 4);
    read++;
    return c;
  }, { mutator: mutateText, oneLine: true });
  writeFileSync(state, good);
  assert.equal(readCheckpoint(ck, params).state.step, step);
  console.log(`# trainer-state.json fuzz (read / rejected): ${tally.ok}/${tally.rejected}`);
  assert.ok(tally.rejected > tally.ok, "most mutants of a checked state are refused");
  assert.equal(read, tally.ok + 1); // and the unmutated file, read first
  rmSync(dir, { recursive: true, force: true });
});
