/** ELECTRA-Small's discriminator and generator (google/electra-small-*), the sizes every benchmark runs. */
export const SMALL = {
  vocab_size: 30522, embedding_size: 128, hidden_size: 256, num_hidden_layers: 12, num_attention_heads: 4,
  intermediate_size: 1024, hidden_dropout_prob: 0.1, attention_probs_dropout_prob: 0.1, max_position_embeddings: 512,
};
export const SMALL_GENERATOR = { ...SMALL, hidden_size: 64, num_attention_heads: 1, intermediate_size: 256 };
