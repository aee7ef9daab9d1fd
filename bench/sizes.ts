/** ELECTRA-Small's sizes (google/electra-small-*), which every benchmark runs, and the benchmarks' timing rule. */
export const SMALL = {
  vocab_size: 30522, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4,
  intermediate_size: 1024, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
};
export const SMALL_GENERATOR = { ...SMALL, hidden_size: 64, num_attention_heads: 1, intermediate_size: 256 };

/** The median and 99th-percentile wall times of `steps` calls of `step`, after `warmup` untimed ones. */
export function stepTimes(step: () => void, steps: number, warmup: number): { median: number; p99: number } {
  for (let i = 0; i < warmup; i++) step();
  const times: number[] = [];
  for (let i = 0; i < steps; i++) {
    const t0 = process.hrtime.bigint();
    step();
    times.push(Number(process.hrtime.bigint() - t0) / 1e9);
  }
  times.sort((a, b) => a - b);
  return { median: times[Math.floor(times.length / 2)], p99: times[Math.min(times.length - 1, Math.floor(times.length * 0.99))] };
}
