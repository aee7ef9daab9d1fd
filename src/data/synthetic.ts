/**
 * A generated corpus for the built-in demo (no copied text): sentences from a small English-like grammar
 * with number agreement ("the old dog sleeps" / "the old dogs sleep"), so that a masked-LM can learn real
 * structure and the discriminator can learn to spot implausible replacements. Seeded: the same seed gives
 * the same corpus.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname } from "node:path";
import { Rng } from "../core/rng.js";
import { SPECIAL_TOKENS } from "./tokenizer.js";

const NOUNS = ["dog", "cat", "bird", "farmer", "child", "teacher", "river", "city", "horse", "sailor", "king", "garden", "storm", "doctor", "wolf", "village"];
const PLURAL: Record<string, string> = { child: "children", city: "cities", wolf: "wolves" };
const ADJECTIVES = ["old", "young", "quiet", "bright", "small", "green", "tired", "brave", "cold", "happy", "dark", "gentle"];
const VERBS_INTRANSITIVE = ["sleep", "run", "sing", "wait", "rest", "shine", "grow", "laugh"];
const VERBS_TRANSITIVE = ["see", "follow", "help", "watch", "find", "call", "love", "fear"];
const PLACES = ["in the morning", "near the river", "after the storm", "at night", "by the garden", "every day", "in the city"];
const CONJUNCTIONS = ["and", "but", "because", "while"];

const plural = (n: string) => PLURAL[n] ?? `${n}s`;
const thirdPerson = (v: string) => (v.endsWith("sh") || v.endsWith("ch") ? `${v}es` : `${v}s`);

function nounPhrase(rng: Rng): { text: string; many: boolean } {
  const many = rng.uniform() < 0.4;
  const noun = NOUNS[rng.randint(0, NOUNS.length - 1)];
  const adj = rng.uniform() < 0.6 ? `${ADJECTIVES[rng.randint(0, ADJECTIVES.length - 1)]} ` : "";
  const det = many ? (rng.uniform() < 0.5 ? "the" : "some") : rng.uniform() < 0.7 ? "the" : "a";
  return { text: `${det} ${adj}${many ? plural(noun) : noun}`, many };
}

function clause(rng: Rng): string {
  const subj = nounPhrase(rng);
  if (rng.uniform() < 0.5) {
    const v = VERBS_INTRANSITIVE[rng.randint(0, VERBS_INTRANSITIVE.length - 1)];
    return `${subj.text} ${subj.many ? v : thirdPerson(v)}`;
  }
  const v = VERBS_TRANSITIVE[rng.randint(0, VERBS_TRANSITIVE.length - 1)];
  return `${subj.text} ${subj.many ? v : thirdPerson(v)} ${nounPhrase(rng).text}`;
}

export function generateSentence(rng: Rng): string {
  let s = clause(rng);
  if (rng.uniform() < 0.3) s += ` ${CONJUNCTIONS[rng.randint(0, CONJUNCTIONS.length - 1)]} ${clause(rng)}`;
  if (rng.uniform() < 0.4) s += ` ${PLACES[rng.randint(0, PLACES.length - 1)]}`;
  return s.charAt(0).toUpperCase() + s.slice(1) + ".";
}

/** Writes `documents` documents of 3-8 sentences, one sentence per line, blank line between documents. */
export function writeSyntheticCorpus(path: string, documents: number, seed: number): void {
  const rng = new Rng(seed);
  const lines: string[] = [];
  for (let d = 0; d < documents; d++) {
    const n = rng.randint(3, 8);
    for (let i = 0; i < n; i++) lines.push(generateSentence(rng));
    lines.push("");
  }
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, lines.join("\n"));
}

/** Every word the grammar can produce, lowercased, plus "." and the special tokens: a complete vocab.txt. */
export function syntheticVocabulary(): string[] {
  const words = new Set<string>(["the", "a", "some", ".", ...ADJECTIVES, ...CONJUNCTIONS]);
  for (const n of NOUNS) words.add(n).add(plural(n));
  for (const v of [...VERBS_INTRANSITIVE, ...VERBS_TRANSITIVE]) words.add(v).add(thirdPerson(v));
  for (const p of PLACES) for (const w of p.split(" ")) words.add(w);
  return [...SPECIAL_TOKENS, ...[...words].sort()];
}
