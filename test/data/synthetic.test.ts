/** The generated corpus and the demo's generated fine-tuning task (src/data/synthetic.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { readTable } from "../../src/data/tabular.js";
import { generateDocument, generateHabitatTask, HABITAT_LABELS, syntheticVocabulary, writeHabitatTask } from "../../src/data/synthetic.js";
import { Rng } from "../../src/core/rng.js";

const words = (s: string) => s.toLowerCase().replace(/\./g, " .").split(/\s+/).filter(Boolean);

test("corpus documents are seeded and use only the generated vocabulary", () => {
  const vocab = new Set(syntheticVocabulary());
  const a = generateDocument(new Rng(4)), b = generateDocument(new Rng(4));
  assert.deepEqual(a, b);
  assert.ok(a.length >= 3 && a.length <= 8);
  for (const line of a) for (const w of words(line)) assert.ok(vocab.has(w), `${w} is not in the vocabulary`);
});

test("habitat task: the creature is never named, the label says domestic or wild, pronoun and verb agree", () => {
  const domestic = { dog: 1, cat: 1, horse: 1, cow: 1, bird: 0, fish: 0, bee: 0, owl: 0 } as Record<string, number>;
  const plural: Record<string, string> = { dog: "dogs", cat: "cats", horse: "horses", cow: "cows", bird: "birds", fish: "fish", bee: "bees", owl: "owls" };
  const vocab = new Set(syntheticVocabulary());
  const xs = generateHabitatTask(2000, 9);
  assert.deepEqual(xs, generateHabitatTask(2000, 9), "seeded");
  let positives = 0;
  for (const x of xs) {
    assert.equal(x.label, domestic[x.creature], `${x.creature} labelled ${x.label}`);
    positives += x.label;
    const w = words(x.sentence);
    for (const t of w) {
      assert.ok(t !== x.creature && t !== plural[x.creature], `"${x.sentence}" names its creature`);
      assert.ok(vocab.has(t), `${t} is not in the vocabulary`);
    }
    // "it" takes the third-person form (barks, eats, ...), "they" the base form (bark, eat)
    assert.ok(w[0] === "it" || w[0] === "they", x.sentence);
    const thirdPerson = w[1].endsWith("s");
    assert.equal(thirdPerson, w[0] === "it", `agreement in "${x.sentence}"`);
  }
  assert.ok(positives > 800 && positives < 1200, `balanced: ${positives} of 2000 domestic`);
  assert.deepEqual([...HABITAT_LABELS], ["wild", "domestic"]);
});

test("habitat task files read as a text-classification table with the same sentences and label names", () => {
  const dir = mkdtempSync(join(tmpdir(), "electra-habitat-"));
  writeHabitatTask(dir, 50, 20, 3);
  const read = (f: string) => readTable(join(dir, f), { textColumn: "sentence", labelColumn: "label" }).rows;
  const train = read("train.tsv"), dev = read("dev.tsv");
  assert.equal(train.length, 50);
  assert.equal(dev.length, 20);
  const expected = generateHabitatTask(50, 3);
  assert.deepEqual(train.map((e) => [e.textA, e.label]), expected.map((x) => [x.sentence, HABITAT_LABELS[x.label]]));
  assert.match(readFileSync(join(dir, "train.tsv"), "utf8"), /^sentence\tlabel\n/);
  assert.notDeepEqual(dev.map((e) => e.textA), train.slice(0, 20).map((e) => e.textA), "dev is drawn with another seed");
});
