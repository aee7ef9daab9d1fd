/**
 * A generated corpus for the built-in demo (no copied text). A small world of creatures, each with its own
 * adjectives, actions and places ("the loyal dog barks at the door", "the yellow birds sing in the trees"),
 * number agreement, and documents that stay on one or two creatures. Context constrains most words, as in
 * real text, so a generator can learn to fill masks and a discriminator can learn to spot a replacement
 * that does not fit. Seeded: the same seed gives the same corpus.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { Rng } from "../core/rng.js";
import { SPECIAL_TOKENS } from "./tokenizer.js";

interface Creature {
  noun: string;
  plural: string;
  adjectives: string[];
  /** verb (base form) -> places it happens */
  actions: Record<string, string[]>;
  food: string[];
}

const WORLD: Creature[] = [
  { noun: "dog", plural: "dogs", adjectives: ["loyal", "brown"], actions: { bark: ["at the door", "at the gate"], run: ["in the field", "along the road"] }, food: ["meat", "bones"] },
  { noun: "cat", plural: "cats", adjectives: ["lazy", "grey"], actions: { purr: ["on the chair", "by the fire"], sleep: ["on the roof", "by the fire"] }, food: ["fish", "milk"] },
  { noun: "bird", plural: "birds", adjectives: ["yellow", "small"], actions: { sing: ["in the tree", "at dawn"], fly: ["over the hill", "above the lake"] }, food: ["seeds", "worms"] },
  { noun: "horse", plural: "horses", adjectives: ["strong", "white"], actions: { gallop: ["across the plain", "along the road"], neigh: ["in the stable", "at the gate"] }, food: ["hay", "oats"] },
  { noun: "fish", plural: "fish", adjectives: ["silver", "quick"], actions: { swim: ["in the river", "in the lake"], hide: ["under the rocks", "among the reeds"] }, food: ["flies", "worms"] },
  { noun: "bee", plural: "bees", adjectives: ["busy", "striped"], actions: { buzz: ["in the garden", "among the flowers"], work: ["in the hive", "all day"] }, food: ["nectar", "pollen"] },
  { noun: "owl", plural: "owls", adjectives: ["wise", "silent"], actions: { hunt: ["at night", "in the dark"], hoot: ["in the forest", "at midnight"] }, food: ["mice", "beetles"] },
  { noun: "cow", plural: "cows", adjectives: ["gentle", "spotted"], actions: { graze: ["in the meadow", "on the hill"], moo: ["in the barn", "at dawn"] }, food: ["grass", "hay"] },
];

const thirdPerson = (v: string) => (/(sh|ch|ss|zz|x)$/.test(v) ? `${v}es` : `${v}s`);
const pick = <T>(rng: Rng, a: readonly T[]): T => a[rng.randint(0, a.length - 1)];

/** One clause: the subject ("the loyal dog", "some cows") and what follows it ("barks at the door", "eat hay"). */
function clause(rng: Rng, c: Creature): { many: boolean; subject: string[]; predicate: string[] } {
  const many = rng.uniform() < 0.4;
  const det = many ? pick(rng, ["the", "some", "many"]) : pick(rng, ["the", "a", "the"]);
  const subject = [det];
  if (rng.uniform() < 0.7) subject.push(pick(rng, c.adjectives));
  subject.push(many ? c.plural : c.noun);
  if (rng.uniform() < 0.3) return { many, subject, predicate: [many ? "eat" : "eats", pick(rng, c.food)] };
  const verb = pick(rng, Object.keys(c.actions));
  return { many, subject, predicate: [many ? verb : thirdPerson(verb), pick(rng, c.actions[verb])] };
}

function sentence(rng: Rng, c: Creature): string {
  const { subject, predicate } = clause(rng, c);
  return [...subject, ...predicate].join(" ");
}

/** A clause whose subject is a pronoun ("they gallop across the plain", "it eats hay"): the creature is not named. */
function pronounClause(rng: Rng, c: Creature): string {
  const { many, predicate } = clause(rng, c);
  return [many ? "they" : "it", ...predicate].join(" ");
}
const asSentence = (s: string): string => s.charAt(0).toUpperCase() + s.slice(1) + ".";

export function generateDocument(rng: Rng): string[] {
  const topic = [pick(rng, WORLD)];
  if (rng.uniform() < 0.3) topic.push(pick(rng, WORLD));
  const n = rng.randint(3, 8);
  const lines: string[] = [];
  for (let i = 0; i < n; i++) {
    // after the first sentence, a document about one creature often refers to it by a pronoun
    let s = i > 0 && topic.length === 1 && rng.uniform() < 0.3 ? pronounClause(rng, topic[0]) : sentence(rng, pick(rng, topic));
    if (rng.uniform() < 0.25) s += ` and ${sentence(rng, pick(rng, topic))}`;
    lines.push(asSentence(s));
  }
  return lines;
}

/** Writes `documents` documents of 3-8 sentences, one sentence per line, blank line between documents. */
export function writeSyntheticCorpus(path: string, documents: number, seed: number): void {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let d = 0; d < documents; d++) lines.push(...generateDocument(rng), "");
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.join("\n"));
}

/** Every word the generator can produce, lowercased, plus "." and the special tokens: a complete vocab.txt. */
export function syntheticVocabulary(): string[] {
  const words = new Set<string>(["the", "a", "some", "many", "and", "eat", "eats", "it", "they", "."]);
  for (const c of WORLD) {
    words.add(c.noun).add(c.plural);
    for (const w of [...c.adjectives, ...c.food]) words.add(w);
    for (const [v, places] of Object.entries(c.actions)) {
      words.add(v).add(thirdPerson(v));
      for (const p of places) for (const w of p.split(" ")) words.add(w);
    }
  }
  return [...SPECIAL_TOKENS, ...[...words].sort()];
}

/** Creatures kept by people; the others are wild. The demo's fine-tuning task tells the two apart. */
const DOMESTIC = new Set(["dog", "cat", "horse", "cow"]);

/** One labelled sentence of the demo's fine-tuning task. */
export interface HabitatExample {
  sentence: string;
  /** 1: a domestic creature, 0: a wild one */
  label: 0 | 1;
  creature: string;
}

/**
 * The demo's fine-tuning task: is the creature a sentence speaks of domestic (dog, cat, horse, cow) or wild
 * (bird, fish, bee, owl)? The creature is not named ("They gallop across the plain.", "It eats nectar."): the
 * model must know the creatures by what they do and eat, which is what pretraining on the corpus teaches.
 */
export function generateHabitatTask(n: number, seed: number): HabitatExample[] {
  const rng = new Rng(seed);
  const out: HabitatExample[] = [];
  for (let i = 0; i < n; i++) {
    const c = pick(rng, WORLD);
    out.push({ sentence: asSentence(pronounClause(rng, c)), label: DOMESTIC.has(c.noun) ? 1 : 0, creature: c.noun });
  }
  return out;
}

/** The task's label names, by HabitatExample.label (0, 1). */
export const HABITAT_LABELS = ["wild", "domestic"] as const;

/**
 * Writes the task as DIR/train.tsv and DIR/dev.tsv with the columns `sentence` and `label` (the label's name),
 * for `finetune --task text-classification --text-column sentence`.
 */
export function writeHabitatTask(dir: string, train: number, dev: number, seed: number): void {
  mkdirSync(dir, { recursive: true });
  const rows = (xs: HabitatExample[]) => ["sentence\tlabel", ...xs.map((e) => `${e.sentence}\t${HABITAT_LABELS[e.label]}`)].join("\n") + "\n";
  writeFileSync(join(dir, "train.tsv"), rows(generateHabitatTask(train, seed)));
  writeFileSync(join(dir, "dev.tsv"), rows(generateHabitatTask(dev, seed + 1_000_003)));
}
