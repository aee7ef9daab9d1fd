/**
 * Input the readers and tasks refuse before any training, with a one-line error naming the file and line: an
 * unlabelled multiple-choice training or validation file, a GLUE task given other data than its folder's, tags and
 * labels that the prediction files could not write back, and a vocabulary's byte-order mark (which is accepted).
 */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readTokenJsonl, TaggedFormatError } from "../../src/data/conll.js";
import { readTable, TableFormatError } from "../../src/data/tabular.js";
import { readVocabFile } from "../../src/data/tokenizer.js";
import { GlueTaskOnSeam } from "../../src/tasks/glue.js";
import { MultipleChoiceTask } from "../../src/tasks/multiple-choice.js";
import { throwsAt, tmpFiles } from "../helpers/files.js";

const files = tmpFiles("electra-input-checks-");
const mc = (label: boolean) =>
  ['{"context":"I tipped the bottle.","choices":["It spilled.","It fell."]', '{"context":"He broke his toe.","choices":["A hammer fell.","A sock tore."]']
    .map((l) => `${l}${label ? ',"label":0' : ""}}\n`).join("");

test("multiple choice: an unlabelled training or validation file is refused before training", () => {
  const labelled = files.file("ok.jsonl", mc(true)), unlabelled = files.file("none.jsonl", mc(false));
  throwsAt(() => new MultipleChoiceTask("multiple-choice", { trainFile: unlabelled, validationFile: labelled }).trainSplit(), unlabelled, 1, "no label: a training file must be labelled");
  throwsAt(() => new MultipleChoiceTask("multiple-choice", { trainFile: labelled, validationFile: unlabelled }).devSplits(), unlabelled, 1, "no label: a validation file must be labelled");
  const t = new MultipleChoiceTask("multiple-choice", { trainFile: labelled, validationFile: labelled });
  assert.deepEqual(t.trainSplit().examples.map((e) => e.label), [0, 0]);
  // a named split (prediction on a blind test file) may be unlabelled
  assert.equal(t.split(unlabelled).labelled, false);
});

test("a GLUE task reads its folder: --train-file, --validation-file or --validation-split beside --data-dir is an error, not ignored", () => {
  for (const [opt, flag] of [[{ trainFile: "mine.tsv" }, "--train-file"], [{ validationFile: "mine.tsv" }, "--validation-file"], [{ validationSplit: 0.1 }, "--validation-split"]] as const) {
    assert.throws(() => new GlueTaskOnSeam("sst2", { dataDir: files.root, ...opt }), new RegExp(`SST-2 reads SST-2/ under --data-dir, not ${flag}: for your own files use --task text-classification`));
  }
  assert.doesNotThrow(() => new GlueTaskOnSeam("sst2", { dataDir: files.root }));
});

test("a JSONL tag with whitespace and a label with a tab or line break are refused where they are read", () => {
  const tags = files.file("t.jsonl", '{"tokens":["EU","rejects"],"tags":["B-ORG","O"]}\n{"tokens":["Peter","B"],"tags":["B-PER","I PER"]}\n');
  throwsAt(() => readTokenJsonl(tags), tags, 2, '"tags"[1] "I PER" contains whitespace', TaggedFormatError);
  const tab = files.file("l.csv", 'text,label\nhello,pos\nbad,"ne\tg"\n');
  throwsAt(() => readTable(tab, { labelColumn: "label" }), tab, 3, 'label (column "label") "ne\\tg" contains a tab or a line break', TableFormatError);
  const nl = files.file("n.csv", 'text,label\nhello,"po\ns"\n');
  throwsAt(() => readTable(nl, { labelColumn: "label" }), nl, 2, "contains a tab or a line break", TableFormatError);
  // spaces inside a label are fine (a class name of two words), and so is padding, which is trimmed
  assert.deepEqual(readTable(files.file("s.csv", 'text,label\nhello, very good \n'), { labelColumn: "label" }).rows.map((r) => r.label), ["very good"]);
});

test("a vocabulary file's byte-order mark is not part of its first token", () => {
  const v = files.file("vocab.txt", "\uFEFF[PAD]\n[UNK]\nthe\n");
  assert.deepEqual(readVocabFile(v), ["[PAD]", "[UNK]", "the"]);
});
