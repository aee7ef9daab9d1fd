/** Test helpers for `electra serve`: tiny random models saved as Hugging Face folders, and requests on loopback. */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticVocabulary } from "../../src/data/synthetic.js";
import { saveHfFolder } from "../../src/io/hf-folder.js";
import { parseConfig } from "../../src/model/config.js";
import { createModel } from "../../src/model/electra.js";
import { initParams } from "../../src/model/params.js";

const ARCHITECTURES = {
  classifier: "ElectraForSequenceClassification", generator: "ElectraForMaskedLM", "question-answering": "ElectraForQuestionAnswering", "multiple-choice": "ElectraForMultipleChoice",
  "token-classifier": "ElectraForTokenClassification", discriminator: "ElectraForPreTraining", encoder: "ElectraModel",
} as const;
let root: string | null = null;

/** A tiny random model of `kind` (2 layers, 40 positions, the demo's vocabulary) in a fresh folder. */
export function tinyModel(kind: keyof typeof ARCHITECTURES, seed = 9): string {
  if (!root) {
    root = mkdtempSync(join(tmpdir(), "electra-serve-"));
    writeFileSync(join(root, "vocab.txt"), syntheticVocabulary().join("\n") + "\n");
  }
  const cfg = parseConfig({ vocab_size: syntheticVocabulary().length, embedding_size: 16, hidden_size: 24, num_attention_heads: 2, intermediate_size: 48,
    num_hidden_layers: 2, max_position_embeddings: 40, ...(kind === "classifier" ? { id2label: { 0: "no", 1: "yes" } } : {}) });
  const m = createModel(kind, cfg);
  initParams(m.store, 0.5, seed);
  const dir = join(root, `${kind}-${seed}`);
  saveHfFolder(dir, m.store, cfg, { architecture: ARCHITECTURES[kind], tokenizerFiles: [join(root, "vocab.txt")] });
  return dir;
}

export interface Reply {
  status: number;
  headers: Headers;
  json: { results?: unknown[]; error?: string; status?: string };
}

/** POST `body` as JSON (or `raw` as it is) to the server on 127.0.0.1:port. */
export async function post(port: number, path: string, body: unknown, raw?: string, headers: Record<string, string> = {}): Promise<Reply> {
  const r = await fetch(`http://127.0.0.1:${port}${path}`, { method: "POST", headers: { "content-type": "application/json", ...headers }, body: raw ?? JSON.stringify(body) });
  return { status: r.status, headers: r.headers, json: (await r.json()) as Reply["json"] };
}
