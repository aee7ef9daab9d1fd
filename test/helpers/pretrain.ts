/**
 * A scratch folder for pretraining tests: DIR/corpus.txt (the generated corpus), DIR/vocab.txt (its vocabulary)
 * and DIR/config.json (a two-layer, 32-wide discriminator unless `config` says otherwise).
 */
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { syntheticVocabulary, writeSyntheticCorpus } from "../../src/data/synthetic.js";

export const TEST_DISCRIMINATOR = {
  embedding_size: 16, hidden_size: 32, num_hidden_layers: 2, num_attention_heads: 2, intermediate_size: 64, max_position_embeddings: 64,
};

export function pretrainScratch(prefix: string, config: Record<string, unknown> = {}, documents = 300, seed = 5): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  writeSyntheticCorpus(join(dir, "corpus.txt"), documents, seed);
  writeFileSync(join(dir, "vocab.txt"), syntheticVocabulary().join("\n") + "\n");
  writeFileSync(join(dir, "config.json"), JSON.stringify({ ...TEST_DISCRIMINATOR, ...config }));
  return dir;
}
