/** The SQuAD reader's checks of a file, one-line errors naming the file and question (src/data/squad.ts). */
import { test } from "node:test";
import assert from "node:assert/strict";
import { readSquad, SquadFormatError } from "../../src/data/squad.js";
import { throwsAt, tmpFiles } from "../helpers/files.js";

const files = tmpFiles("electra-squad-");
const CONTEXT = "The Normans gave their name to Normandy, a region in France.";
const squad = (qas: unknown[], context = CONTEXT) => JSON.stringify({ version: "1.1", data: [{ title: "t", paragraphs: [{ context, qas }] }] });
const q = (id: string, answers: unknown[], extra: Record<string, unknown> = {}) => ({ id, question: "?", answers, ...extra });

test("answers whose text is the context's at answer_start are read, in code points", () => {
  const ctx = "Le café 🙂 est à Paris.";
  const f = files.file("ok.json", squad([q("a", [{ text: "Paris", answer_start: Array.from(ctx).indexOf("P") }]), q("b", [{ text: "café 🙂", answer_start: 3 }])], ctx));
  const ex = readSquad(f, "1.1");
  assert.deepEqual(ex.map((e) => e.answers), [[{ text: "Paris", start: 16 }], [{ text: "café 🙂", start: 3 }]]);
});

test("an answer that is not the context's text at its answer_start names the question and what is there", () => {
  const wrong = files.file("wrong.json", squad([q("q1", [{ text: "The Normans", answer_start: 0 }]), q("q2", [{ text: "Germany", answer_start: 10 }])]));
  throwsAt(() => readSquad(wrong), wrong, undefined, 'question q2: answer 0 "Germany" is not the context\'s text at character 10 ("s gave ")', SquadFormatError);
  const shifted = files.file("shifted.json", squad([q("q3", [{ text: "The Normans", answer_start: 5 }])]));
  throwsAt(() => readSquad(shifted), shifted, undefined, 'question q3: answer 0 "The Normans" is not the context\'s text at character 5', SquadFormatError);
  // running past the context's end: the text found there is shorter
  const past = files.file("past.json", squad([q("q4", [{ text: "France", answer_start: CONTEXT.length }])]));
  throwsAt(() => readSquad(past), past, undefined, `question q4: answer 0 "France" is not the context's text at character ${CONTEXT.length} ("")`, SquadFormatError);
  const empty = files.file("empty.json", squad([q("q5", [{ text: " ", answer_start: 3 }])]));
  throwsAt(() => readSquad(empty), empty, undefined, 'question q5: answer 0 has an empty "text"', SquadFormatError);
});

test("a SQuAD 2.0 question in a SQuAD 1.1 task is refused at reading; the 2.0 task reads it", () => {
  const v2 = files.file("v2.json", squad([
    q("q1", [{ text: "Normandy", answer_start: 31 }], { is_impossible: false }),
    q("q2", [], { is_impossible: true, plausible_answers: [{ text: "France", answer_start: 53 }] }),
  ]));
  throwsAt(() => readSquad(v2, "1.1"), v2, undefined, 'question q2: "is_impossible": true (a SQuAD 2.0 question) in a SQuAD 1.1 task: use --task squad_v2', SquadFormatError);
  const ex = readSquad(v2, "2.0");
  assert.deepEqual(ex.map((e) => [e.id, e.isImpossible, e.answers.length]), [["q1", false, 1], ["q2", true, 0]]);
});

test("a file that is not UTF-8 names the line", () => {
  const text = squad([q("q1", [{ text: "Normandy", answer_start: 31 }])]).replace("region", "r\u00e9gion");
  const latin1 = files.file("latin1.json", Buffer.from(text.replace(/^\{/, "{\n"), "latin1"));
  throwsAt(() => readSquad(latin1), latin1, 2, "invalid UTF-8", SquadFormatError);
});

test("electra score: a SQuAD file that is not UTF-8 is refused, as the official script refuses it", async () => {
  const { scoreSquadFiles } = await import("../../src/metrics/squad-files.js");
  const text = squad([q("q1", [{ text: "Normandy", answer_start: 31 }])]).replace("region", "r\u00e9gion");
  const latin1 = files.file("data.json", Buffer.from(text, "latin1")), preds = files.file("p.json", '{"q1": "Normandy"}');
  throwsAt(() => scoreSquadFiles(latin1, preds, false), latin1, 1, "invalid UTF-8");
  assert.equal(scoreSquadFiles(files.file("utf8.json", text), preds, false).exact_match, 100);
});
