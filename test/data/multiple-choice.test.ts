import { test, after } from "node:test";
import assert from "node:assert/strict";
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";
import { FileFormatError } from "../../src/data/format-error.js";
import {
  COPA_QUESTIONS,
  ChoiceFormatError,
  choiceFormatOf,
  copaContext,
  numChoices,
  readChoices,
  readChoicesJsonl,
  readCopa,
  readOpenBookQa,
  readSwag,
  splitOpenBookQaChoices,
  type ChoiceExample,
} from "../../src/data/multiple-choice.js";

const MC = path.resolve(process.cwd(), "../shared/data/multiple-choice");
const COPA_DEV = path.join(MC, "copa/datasets/copa-dev.xml");
const OBQA_TRAIN = path.join(MC, "openbookqa/train.tsv");
const OBQA_DEV = path.join(MC, "openbookqa/dev.tsv");

function missing(...files: string[]): string | false {
  for (const f of files) {
    if (!existsSync(f)) {
      const reason = `shared data absent: ${f} not found`;
      console.log(`# skipped: ${reason}`);
      return reason;
    }
  }
  return false;
}

const tmpRoot = mkdtempSync(path.join(tmpdir(), "electra-mc-test-"));
after(() => rmSync(tmpRoot, { recursive: true, force: true }));
let counter = 0;
function tmpFile(name: string, content: string | Buffer): string {
  const dir = path.join(tmpRoot, String(counter++));
  const file = path.join(dir, name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(file, content);
  return file;
}
/** Asserts fn throws a one-line ChoiceFormatError `file:line: …` (or `file: …` when line is undefined). */
function throwsAt(fn: () => unknown, file: string, line: number | undefined, includes?: string | RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ChoiceFormatError, `expected ChoiceFormatError, got ${String(e)}`);
    assert.ok(e instanceof FileFormatError);
    assert.equal(e.name, "ChoiceFormatError");
    assert.equal(e.file, file);
    assert.equal(e.line, line, e.message);
    const prefix = line === undefined ? `${file}: ` : `${file}:${line}: `;
    assert.ok(e.message.startsWith(prefix), `message ${JSON.stringify(e.message)} should start with ${JSON.stringify(prefix)}`);
    assert.ok(!/[\r\n]/.test(e.message), `message must be one line: ${JSON.stringify(e.message)}`);
    if (typeof includes === "string") assert.ok(e.message.includes(includes), `${JSON.stringify(e.message)} lacks ${JSON.stringify(includes)}`);
    else if (includes) assert.match(e.message, includes);
    return true;
  });
}

function checkUniform(examples: readonly ChoiceExample[], n: number): void {
  assert.equal(numChoices(examples), n);
  for (const e of examples) {
    assert.equal(e.choices.length, n, `example ${e.id}`);
    if (e.label !== undefined) assert.ok(Number.isInteger(e.label) && e.label >= 0 && e.label < n, `example ${e.id} label ${e.label}`);
    assert.ok(Number.isInteger(e.line) && e.line >= 1);
    assert.equal(typeof e.context, "string");
    for (const c of e.choices) assert.ok(c.trim() !== "", `example ${e.id} has an empty choice`);
  }
}

// ---------------------------------------------------------------------------------------------
// Real files
// ---------------------------------------------------------------------------------------------

test("COPA copa-dev.xml: 500 labelled items, both questions, lines of <item", { skip: missing(COPA_DEV) }, () => {
  const ex = readCopa(COPA_DEV);
  assert.equal(ex.length, 500);
  checkUniform(ex, 2);
  assert.deepEqual(new Set(ex.map((e) => e.label)), new Set([0, 1]));
  assert.ok(ex.every((e) => e.label !== undefined));
  const causes = ex.filter((e) => e.context.endsWith(` ${COPA_QUESTIONS.cause}`)).length;
  const effects = ex.filter((e) => e.context.endsWith(` ${COPA_QUESTIONS.effect}`)).length;
  assert.ok(causes > 0 && effects > 0);
  assert.equal(causes + effects, 500);
  assert.deepEqual(ex.map((e) => e.id), Array.from({ length: 500 }, (_, i) => String(i + 1)));

  assert.deepEqual(ex[0], {
    id: "1",
    context: "My body cast a shadow over the grass. What was the cause of this?",
    choices: ["The sun was rising.", "The grass was cut."],
    label: 0,
    line: 5,
  });
  assert.deepEqual(ex[2], {
    id: "3",
    context: "The women met for coffee. What was the cause of this?",
    choices: ["The cafe reopened in a new location.", "They wanted to catch up with each other."],
    label: 1,
    line: 17,
  });
  assert.deepEqual(ex[499], {
    id: "500",
    context: "The woman was in a bad mood. What happened as a result?",
    choices: ["She engaged in small talk with her friend.", "She told her friend to leave her alone."],
    label: 1,
    line: ex[499]!.line,
  });

  // Against the raw text: each example's line holds its <item> tag with the same attributes,
  // and the next lines its premise and alternatives.
  const raw = readFileSync(COPA_DEV, "utf8").split("\n");
  for (const e of ex) {
    const m = /^\s*<item id="(\d+)" asks-for="(cause|effect)" most-plausible-alternative="([12])">/.exec(raw[e.line - 1]!);
    assert.ok(m, `line ${e.line}: ${raw[e.line - 1]}`);
    assert.equal(m[1], e.id);
    assert.equal(Number(m[3]) - 1, e.label);
    // (two elements have a stray space inside: line 775's <a1>, line 1260's <p>; the reader trims)
    const text = (tag: string, at: number) => new RegExp(`^\\s*<${tag}>(.*)</${tag}>\\s*$`).exec(raw[at]!)![1]!.trim();
    assert.equal(e.context, copaContext(text("p", e.line), m[2] as "cause" | "effect"));
    assert.deepEqual(e.choices, [text("a1", e.line + 1), text("a2", e.line + 2)]);
  }
  assert.equal(ex.filter((e) => e.context.endsWith(COPA_QUESTIONS.cause)).length, 250);
  const i129 = ex.find((e) => e.id === "129")!; // "<a1> The driver talked the whole way.</a1>" on line 775
  assert.equal(i129.line, 773);
  assert.equal(i129.choices[0], "The driver talked the whole way.");
  assert.deepEqual(readChoices(COPA_DEV), ex);
});

test("OpenBookQA train.tsv / dev.tsv: 4957 / 500 questions of 4 choices", { skip: missing(OBQA_TRAIN, OBQA_DEV) }, () => {
  const train = readOpenBookQa(OBQA_TRAIN);
  const dev = readOpenBookQa(OBQA_DEV);
  assert.equal(train.length, 4957);
  assert.equal(dev.length, 500);
  for (const set of [train, dev]) {
    checkUniform(set, 4);
    assert.ok(set.every((e) => e.label !== undefined));
    assert.deepEqual(new Set(set.map((e) => e.label)), new Set([0, 1, 2, 3]));
  }
  assert.deepEqual(train[0], {
    id: "7-980",
    context: "The sun is responsible for",
    choices: [
      "puppies learning new tricks",
      "children growing up and getting old",
      "flowers wilting in a vase",
      "plants sprouting, blooming and wilting",
    ],
    label: 3,
    line: 2,
  });
  // The one row with a second "(D)": it stays inside choice D.
  const odd = train.find((e) => e.id === "12-1145")!;
  assert.equal(odd.line, 3334);
  assert.deepEqual(odd.choices, [
    "newborn turtles crawling towards the sea",
    "seals clapping to the delight of an audience",
    "ducks sitting on their eggs",
    "baby birds chewing worms (D) mother dogs nursing their pups",
  ]);
  assert.equal(odd.label, 1);

  // Against the raw rows: the Complete Question column is the stem and the choices re-joined.
  for (const [file, set] of [[OBQA_TRAIN, train], [OBQA_DEV, dev]] as const) {
    const lines = readFileSync(file, "utf8").split("\n");
    for (const e of set) {
      const cols = lines[e.line - 1]!.split("\t");
      assert.equal(cols[0], e.id);
      assert.equal(cols[1], e.context);
      const joined = e.choices.map((c, k) => `(${"ABCD"[k]}) ${c}`).join(" ");
      assert.equal(cols[2], joined);
      assert.equal(cols[3], `${e.context} ${joined}`);
      assert.equal(cols[4], "ABCD"[e.label!]);
    }
  }
  assert.deepEqual(readChoices(OBQA_DEV), dev);
});

// ---------------------------------------------------------------------------------------------
// Format selection
// ---------------------------------------------------------------------------------------------

test("choiceFormatOf / readChoices: by extension, format overrides", () => {
  assert.equal(choiceFormatOf("a/copa-dev.XML"), "copa");
  assert.equal(choiceFormatOf("x.tsv"), "openbookqa");
  assert.equal(choiceFormatOf("train.csv"), "swag");
  assert.equal(choiceFormatOf("x.jsonl"), "jsonl");
  assert.equal(choiceFormatOf("x.json"), "jsonl");
  throwsAt(() => choiceFormatOf("data.txt"), "data.txt", undefined, '".txt"');
  throwsAt(() => choiceFormatOf("data"), "data", undefined, "(none)");
  const f = tmpFile("mc.txt", '{"context": "c", "choices": ["a", "b"], "label": 1}\n');
  throwsAt(() => readChoices(f), f, undefined, "give the format");
  assert.deepEqual(readChoices(f, "jsonl"), [{ id: "1", context: "c", choices: ["a", "b"], label: 1, line: 1 }]);
  throwsAt(() => readChoices(f, "copa" as const), f, 1, "not well-formed XML");
  throwsAt(() => readChoices(f, "bogus" as never), f, undefined, 'unknown multiple-choice format "bogus"');
});

// ---------------------------------------------------------------------------------------------
// COPA: small files
// ---------------------------------------------------------------------------------------------

const COPA_HEAD = '<?xml version="1.0" encoding="UTF-8"?>\n<!DOCTYPE copa-corpus SYSTEM "copa.dtd">\n<copa-corpus version="1.0">\n';

test("COPA: entities, comments, CRLF, BOM, unlabelled items", () => {
  const f = tmpFile(
    "c.xml",
    "\uFEFF" +
      (COPA_HEAD +
        "<!-- <item id=\"0\"> in a comment -->\n" +
        '  <item id="a" asks-for="effect" most-plausible-alternative="2">\n' +
        "    <p>Tom &amp; Jerry&#39;s &lt;fight&gt;.</p>\n    <a1>x</a1>\n    <a2><![CDATA[y & z]]></a2>\n  </item>\n" +
        '<item id="b" asks-for="cause" most-plausible-alternative="1"><p>p</p><a2>two</a2><a1>one</a1></item>\n' +
        "</copa-corpus>\n").replace(/\n/g, "\r\n"),
  );
  assert.deepEqual(readChoices(f), [
    { id: "a", context: "Tom & Jerry's <fight>. What happened as a result?", choices: ["x", "y & z"], label: 1, line: 5 },
    { id: "b", context: "p What was the cause of this?", choices: ["one", "two"], label: 0, line: 10 },
  ]);
  const u = tmpFile("u.xml", COPA_HEAD + '<item id="1" asks-for="cause">\n<p>p</p><a1>a</a1><a2>b</a2></item>\n</copa-corpus>\n');
  assert.deepEqual(readCopa(u), [{ id: "1", context: "p What was the cause of this?", choices: ["a", "b"], line: 4 }]);
});

test("COPA: malformed items name file, line and id", () => {
  const item = (attrs: string, body = "<p>p</p><a1>a</a1><a2>b</a2>") => `<item ${attrs}>${body}</item>\n`;
  const ok = item('id="1" asks-for="cause" most-plausible-alternative="1"');
  const cases: Array<[string, string, number | undefined, string]> = [
    ["bad asks-for", ok + item('id="2" asks-for="reason" most-plausible-alternative="1"'), 5, 'item 2: asks-for must be "cause" or "effect", found "reason"'],
    ["no asks-for", ok + item('id="2" most-plausible-alternative="1"'), 5, "item 2: asks-for must be"],
    ["bad label", ok + ok.replace('id="1"', 'id="2"').replace('alternative="1"', 'alternative="3"'), 5, "item 2: most-plausible-alternative must be 1 or 2"],
    ["no id", ok + item('asks-for="cause" most-plausible-alternative="1"'), 5, "<item> without an id"],
    ["duplicate id", ok + "\n" + ok, 6, "item 1: duplicate id (first on line 4)"],
    ["missing a2", ok + item('id="2" asks-for="effect" most-plausible-alternative="1"', "<p>p</p><a1>a</a1>"), 5, "item 2: expected exactly one <a2>, found 0"],
    ["two p", item('id="7" asks-for="effect" most-plausible-alternative="1"', "<p>p</p><p>q</p><a1>a</a1><a2>b</a2>"), 4, "item 7: expected exactly one <p>, found 2"],
    ["empty a1", item('id="7" asks-for="effect" most-plausible-alternative="1"', "<p>p</p><a1> </a1><a2>b</a2>"), 4, "item 7: <a1> is empty"],
    ["markup", item('id="7" asks-for="effect" most-plausible-alternative="1"', "<p>p <b>x</b></p><a1>a</a1><a2>b</a2>"), 4, "item 7: <p> must hold plain text"],
    ["a3", item('id="7" asks-for="effect" most-plausible-alternative="1"', "<p>p</p><a1>a</a1><a2>b</a2><a3>c</a3>"), 4, "item 7: unexpected element <a3>"],
    ["stray text", item('id="7" asks-for="effect" most-plausible-alternative="1"', "hello<p>p</p><a1>a</a1><a2>b</a2>"), 4, "item 7: unexpected text"],
    ["bare item", ok + "\n\n<item/>\n", 7, "<item> has no attributes and no content"],
    ["mixed labels", ok + item('id="2" asks-for="cause"'), 5, "item 2: has no label, but the first example (line 4) has one"],
  ];
  for (const [name, body, line, msg] of cases) {
    const f = tmpFile(`${name.replace(/ /g, "-")}.xml`, COPA_HEAD + body + "</copa-corpus>\n");
    throwsAt(() => readCopa(f), f, line, msg);
  }
  const broken = tmpFile("broken.xml", COPA_HEAD + '<item id="1" asks-for="cause">\n<p>p</a1>\n</item></copa-corpus>\n');
  throwsAt(() => readCopa(broken), broken, 5, "not well-formed XML");
  const wrongRoot = tmpFile("root.xml", "<corpus><item/></corpus>\n");
  throwsAt(() => readCopa(wrongRoot), wrongRoot, undefined, "expected a <copa-corpus> root element (COPA XML), found <corpus>");
  const noItems = tmpFile("none.xml", COPA_HEAD + "</copa-corpus>\n");
  throwsAt(() => readCopa(noItems), noItems, undefined, "no <item> elements");
  const empty = tmpFile("empty.xml", "");
  throwsAt(() => readChoices(empty), empty, undefined, "empty file");
  const blank = tmpFile("blank.xml", "\uFEFF \n\n");
  throwsAt(() => readChoices(blank), blank, undefined, "empty file");
});

// ---------------------------------------------------------------------------------------------
// OpenBookQA: small files
// ---------------------------------------------------------------------------------------------

const OBQA_HEADER = "ID\tQuestion Stem\tChoices\tComplete Question\tAnswer Key\n";
const obqaRow = (id: string, stem: string, choices: string, key: string) => `${id}\t${stem}\t${choices}\t${stem} ${choices}\t${key}\n`;

test("splitOpenBookQaChoices", () => {
  assert.deepEqual(splitOpenBookQaChoices("(A) a (B) b b (C) \"c\" (D) d"), ["a", "b b", '"c"', "d"]);
  assert.deepEqual(splitOpenBookQaChoices("(A) a (B) b (C) c (D) d (D) e"), ["a", "b", "c", "d (D) e"]);
  assert.deepEqual(splitOpenBookQaChoices("(A) a(B) (B) b (C) c (D) d"), ["a(B)", "b", "c", "d"]);
  assert.equal(splitOpenBookQaChoices("(A) a (C) c (B) b (D) d"), undefined);
  assert.equal(splitOpenBookQaChoices("(A) a (B) b (C) c"), undefined);
  assert.equal(splitOpenBookQaChoices("a (B) b (C) c (D) d"), undefined);
});

test("OpenBookQA: quotes are literal, CRLF, no Answer Key column → unlabelled", () => {
  const f = tmpFile("q.tsv", (OBQA_HEADER + obqaRow("1", 'A "quoted" stem', "(A) a (B) b (C) c (D) d", "C") + "\n" + obqaRow("2", "s", '(A) "a (B) b (C) c (D) d', "A")).replace(/\n/g, "\r\n"));
  assert.deepEqual(readChoices(f), [
    { id: "1", context: 'A "quoted" stem', choices: ["a", "b", "c", "d"], label: 2, line: 2 },
    { id: "2", context: "s", choices: ['"a', "b", "c", "d"], label: 0, line: 4 },
  ]);
  const u = tmpFile("u.tsv", "ID\tQuestion Stem\tChoices\nx\ts\t(A) a (B) b (C) c (D) d\n");
  assert.deepEqual(readOpenBookQa(u), [{ id: "x", context: "s", choices: ["a", "b", "c", "d"], line: 2 }]);
});

test("OpenBookQA: malformed rows name file, line and id", () => {
  const good = obqaRow("7-1", "s", "(A) a (B) b (C) c (D) d", "A");
  const cases: Array<[string, number | undefined, string]> = [
    [good + obqaRow("7-2", "s", "(A) a (C) c (B) b (D) d", "A"), 3, 'question 7-2: Choices "(A) a (C) c (B) b (D) d" is not "(A) … (B) … (C) … (D) …" in that order'],
    [good + "\n" + obqaRow("7-3", "s", "(A) a (B) b (C) c", "A"), 4, "question 7-3: Choices"],
    [good + obqaRow("7-4", "s", "(A) a (B) b (C) c (D) d", "E"), 3, 'question 7-4: Answer Key must be one of A, B, C, D, found "E"'],
    [good + obqaRow("7-5", "s", "(A) a (B) b (C) c (D) d", ""), 3, 'question 7-5: Answer Key must be one of A, B, C, D, found ""'],
    [good + obqaRow("7-6", "s", "(A) a (B)  (C) c (D) d", "A"), 3, "question 7-6: choice (B) is empty"],
    [good + obqaRow("7-7", "", "(A) a (B) b (C) c (D) d", "A"), 3, "question 7-7: empty Question Stem"],
    [good + good, 3, "question 7-1: duplicate id (first on line 2)"],
    [good + "7-8\ts\t(A) a (B) b (C) c (D) d\tA\n", 3, "expected 5 fields (as in the header), found 4"],
  ];
  for (const [body, line, msg] of cases) {
    const f = tmpFile("bad.tsv", OBQA_HEADER + body);
    throwsAt(() => readOpenBookQa(f), f, line, msg);
  }
  const noCol = tmpFile("nocol.tsv", "ID\tStem\tChoices\n1\ts\t(A) a (B) b (C) c (D) d\n");
  throwsAt(() => readOpenBookQa(noCol), noCol, undefined, 'no "Question Stem" column');
  const headerOnly = tmpFile("h.tsv", OBQA_HEADER);
  throwsAt(() => readChoices(headerOnly), headerOnly, undefined, "no examples (header only)");
  const empty = tmpFile("e.tsv", "");
  throwsAt(() => readChoices(empty), empty, undefined, "empty file");
  const badUtf8 = tmpFile("u8.tsv", Buffer.concat([Buffer.from(OBQA_HEADER + good), Buffer.from([0x31, 0xff, 0x0a])]));
  throwsAt(() => readOpenBookQa(badUtf8), badUtf8, 3, "invalid UTF-8");
});

// ---------------------------------------------------------------------------------------------
// SWAG: small files in swagaf's format
// ---------------------------------------------------------------------------------------------

const SWAG_HEADER = ",video-id,fold-ind,startphrase,sent1,sent2,gold-source,ending0,ending1,ending2,ending3,label\n";
// Rows in the format of swagaf's data/train.csv (quoted fields where they hold commas).
const SWAG_ROWS =
  "0,lsmdc1052_Harry_Potter_and_the_order_of_phoenix-94857,18313,Students lower their eyes nervously. She,Students lower their eyes nervously.,She,gold," +
  '"pats her shoulder, then saunters toward someone.",turns with two students.,walks slowly towards someone.,wheels around as her dog thunders out.,2\n' +
  "1,anetv_dm5WXFiQZUQ,18419,He rides the motorcycle down the hall and into the elevator. He,He rides the motorcycle down the hall and into the elevator.,He,gold," +
  'looks at a mirror.,"stops, listening\nto a cup of coffee ""black"".",exits the building.,pulls the bag out of his pocket.,0\n';

test("SWAG: context = sent1, choice k = sent2 + \" \" + ending k (run_swag.py)", () => {
  const f = tmpFile("train.csv", SWAG_HEADER + SWAG_ROWS + "\n" + SWAG_ROWS.replace(/^0,/, "2,").replace(/\n1,/, "\n3,"));
  const ex = readChoices(f);
  assert.equal(ex.length, 4);
  checkUniform(ex, 4);
  assert.deepEqual(ex[0], {
    id: "0",
    context: "Students lower their eyes nervously.",
    choices: [
      "She pats her shoulder, then saunters toward someone.",
      "She turns with two students.",
      "She walks slowly towards someone.",
      "She wheels around as her dog thunders out.",
    ],
    label: 2,
    line: 2,
  });
  assert.deepEqual(ex[1], {
    id: "1",
    context: "He rides the motorcycle down the hall and into the elevator.",
    choices: ["He looks at a mirror.", 'He stops, listening\nto a cup of coffee "black".', "He exits the building.", "He pulls the bag out of his pocket."],
    label: 0,
    line: 3,
  });
  assert.deepEqual([ex[2]!.id, ex[2]!.line, ex[3]!.id, ex[3]!.line], ["2", 6, "3", 7]);

  // test.csv: no label column → unlabelled; CRLF
  const testCsv = tmpFile("test.csv", (SWAG_HEADER.replace(",label\n", "\n") + SWAG_ROWS.replace(/,[02]\n/g, "\n")).replace(/\n/g, "\r\n"));
  const t = readSwag(testCsv);
  assert.equal(t.length, 2);
  assert.ok(t.every((e) => e.label === undefined));
  assert.deepEqual(t.map((e) => e.line), [2, 3]);
  assert.equal(t[1]!.choices[1], 'He stops, listening\r\nto a cup of coffee "black".');

  // No index column: id from video-id/fold-ind
  const noIdx = tmpFile("noidx.csv", "video-id,fold-ind,sent1,sent2,ending0,ending1,label\nv1,5,S.,He,a.,b.,1\n");
  assert.deepEqual(readSwag(noIdx), [{ id: "v1/5", context: "S.", choices: ["He a.", "He b."], label: 1, line: 2 }]);
});

test("SWAG: malformed rows name file, line and row", () => {
  const row = (idx: string, label: string, e3 = "d.") => `${idx},v,1,S. He,S.,He,gold,a.,b.,c.,${e3},${label}\n`;
  const cases: Array<[string, number | undefined, string]> = [
    [row("0", "0") + row("1", "4"), 3, 'row 1: label must be an integer from 0 to 3, found "4"'],
    [row("0", "0") + "\n" + row("1", "x"), 4, 'row 1: label must be an integer from 0 to 3, found "x"'],
    [row("0", "0") + row("1", ""), 3, 'row 1: label must be an integer from 0 to 3, found ""'],
    [row("0", "0") + row("1", "1", ""), 3, "row 1: ending3 is empty"],
    [row("0", "0") + row("0", "1"), 3, "row 0: duplicate id (first on line 2)"],
    [row("0", "0") + "1,v,1,S. He,S.,He,gold,a.,b.,c.,d.\n", 3, "expected 12 fields (as in the header), found 11"],
    [row("0", "0") + '1,v,1,S. He,S.,He,gold,"a.,b.,c.,d.,0\n' + row("2", "0"), 3, "a quoted field opened in this row is never closed"],
    [row("0", "0") + '1,v,1,S. He,S.,He,gold,a"x,b.,c.,d.,0\n', 3, "Invalid Opening Quote"],
  ];
  for (const [body, line, msg] of cases) {
    const f = tmpFile("val.csv", SWAG_HEADER + body);
    throwsAt(() => readSwag(f), f, line, msg);
  }
  const noSent1 = tmpFile("n.csv", "sent2,ending0,ending1\nHe,a,b\n");
  throwsAt(() => readSwag(noSent1), noSent1, undefined, 'no "sent1" column');
  const gap = tmpFile("g.csv", "sent1,sent2,ending0,ending2\nS,He,a,b\n");
  throwsAt(() => readSwag(gap), gap, undefined, "without gaps");
  const one = tmpFile("o.csv", "sent1,sent2,ending0\nS,He,a\n");
  throwsAt(() => readSwag(one), one, undefined, 'no "ending1" column');
  const headerOnly = tmpFile("h.csv", SWAG_HEADER);
  throwsAt(() => readChoices(headerOnly), headerOnly, undefined, "no examples");
});

// ---------------------------------------------------------------------------------------------
// JSONL
// ---------------------------------------------------------------------------------------------

test("JSONL: strict keys, ids are line numbers, blank lines skipped", () => {
  const f = tmpFile(
    "mc.jsonl",
    '{"context": "c1", "choices": ["a", "b", "c"], "label": 2}\n\n   \n{"label": 0, "choices": ["x", "y", "z"], "context": ""}\r\n',
  );
  assert.deepEqual(readChoices(f), [
    { id: "1", context: "c1", choices: ["a", "b", "c"], label: 2, line: 1 },
    { id: "4", context: "", choices: ["x", "y", "z"], label: 0, line: 4 },
  ]);
  const u = tmpFile("u.json", '{"context": "c", "choices": ["a", "b"]}\n{"context": "d", "choices": ["a", "b"]}');
  assert.deepEqual(readChoices(u).map((e) => e.label), [undefined, undefined]);
  assert.ok(readChoices(u).every((e) => !("label" in e)));
});

test("JSONL: every error names file and line", () => {
  const ok = '{"context": "c", "choices": ["a", "b"], "label": 0}\n';
  const cases: Array<[string, number | undefined, string]> = [
    [ok + '{"context": "c", "choices": ["a", "b", "c"], "label": 0}\n', 2, "3 choices, but the first example (line 1) has 2"],
    [ok + '{"context": "c", "choices": ["a"], "label": 0}\n', 2, '"choices" must have at least 2 entries, found 1'],
    [ok + '{"context": "c", "choices": ["a", 3], "label": 0}\n', 2, "choice 1 must be a string, found number 3"],
    [ok + '{"context": "c", "choices": ["a", " "], "label": 0}\n', 2, "choice 1 is empty"],
    [ok + '{"context": "c", "choices": "a b", "label": 0}\n', 2, '"choices" must be an array of strings'],
    [ok + '{"choices": ["a", "b"], "label": 0}\n', 2, '"context" must be a string, found nothing'],
    [ok + '{"context": "c", "choices": ["a", "b"], "label": 2}\n', 2, '"label" must be an integer from 0 to 1'],
    [ok + '{"context": "c", "choices": ["a", "b"], "label": "1"}\n', 2, 'found string "1"'],
    [ok + '{"context": "c", "choices": ["a", "b"], "label": 0.5}\n', 2, '"label" must be an integer'],
    [ok + '{"context": "c", "choices": ["a", "b"], "answer": 0}\n', 2, 'unknown key "answer" (the answer\'s key is "label")'],
    [ok + '{"context": "c", "choices": ["a", "b"]}\n', 2, "has no label, but the first example (line 1) has one"],
    [ok + "\n" + '{"context": "c", "choices": ["a", "b"], "label": 0\n', 3, "not valid JSON"],
    [ok + "[1, 2]\n", 2, "expected a JSON object, found an array"],
    ['[{"context": "c", "choices": ["a", "b"]}]\n', 1, "found an array (this format wants one JSON object per line)"],
  ];
  for (const [body, line, msg] of cases) {
    const f = tmpFile("bad.jsonl", body);
    throwsAt(() => readChoicesJsonl(f), f, line, msg);
  }
  const empty = tmpFile("e.jsonl", "");
  throwsAt(() => readChoices(empty), empty, undefined, "empty file");
  const blank = tmpFile("b.jsonl", "\n \n\n");
  throwsAt(() => readChoices(blank), blank, undefined, "empty file");
});

test("numChoices", () => {
  assert.equal(numChoices([{ id: "1", context: "", choices: ["a", "b", "c"], line: 1 }]), 3);
  assert.throws(() => numChoices([]), RangeError);
  assert.throws(
    () => numChoices([{ id: "1", context: "", choices: ["a", "b"], line: 1 }, { id: "2", context: "", choices: ["a"], line: 2 }]),
    /example 2 \(line 2\) has 1 choices/,
  );
});
