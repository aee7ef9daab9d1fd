#!/usr/bin/env python3
"""The copy toy (research/copy-toy.ts) in PyTorch: is the masked-LM plateau ours, or the recipe's?

  /usr/bin/python3 research/copy-toy-torch.py absolute|relative_key [STEPS] [BATCH] [LR]

Sequences of 64 pieces: [CLS], random words w0..w999 each written twice in a row ("w582 w582 w867 w867 ..."),
[SEP]. 15% of the words are chosen, 85% of those become [MASK]; the loss is the masked-LM cross-entropy on
the chosen ones. A model that looks at its neighbour gets nearly every masked word (the other copy); a
bag-of-words model only guesses among the sequence's words (accuracy ~0.15 here).

The model is ../shared/reference/electra_ref.py's ElectraForMaskedLM at electra-ts's `tiny` size (hidden 128,
4 layers, 2 heads, FFN 512, dropout 0.1) with transformers' init (normal 0.02, zero biases), trained with
torch AdamW (eps 1e-6, weight decay 0.01 off biases and LayerNorm), linear warmup over 100 steps then linear
decay, clipping 1.0. "relative_key" swaps in transformers' relative-position attention (no position
embeddings; score (i, j) += q_i . distance_embedding[i - j + P - 1]), as electra-ts's
`position_embedding_type: "relative_key"`. Prints the mean loss and accuracy of each 50 steps.
Measured in BENCHMARKS.md (issue 5, sixth measurement).
"""
import math
import os
import random
import sys

import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared", "reference"))
import electra_ref as R  # noqa: E402

POS = sys.argv[1] if len(sys.argv) > 1 else "absolute"
STEPS = int(sys.argv[2]) if len(sys.argv) > 2 else 800
B = int(sys.argv[3]) if len(sys.argv) > 3 else 32
LR = float(sys.argv[4]) if len(sys.argv) > 4 else 1e-3
V, T, WARMUP = 1005, 64, 100  # 5 special tokens + 1000 words, as research/copy-toy.ts
CLS, SEP, MASK = 2, 3, 4

if POS == "relative_key":
    class RelativeKeySelfAttention(R.SelfAttention):
        def __init__(self, c):
            super().__init__(c)
            self.P = c["max_position_embeddings"]
            self.distance_embedding = nn.Embedding(2 * self.P - 1, c["hidden_size"] // c["num_attention_heads"])

        def forward(self, x, bias):
            b, t, h = x.shape
            d = h // self.heads
            split = lambda y: y.view(b, t, self.heads, d).transpose(1, 2)
            q, k, v = split(self.query(x)), split(self.key(x)), split(self.value(x))
            table = self.distance_embedding(torch.arange(t)[:, None] - torch.arange(t)[None, :] + self.P - 1)
            scores = (q @ k.transpose(-1, -2) + torch.einsum("bhld,lrd->bhlr", q, table)) / math.sqrt(d) + bias
            return (self.dropout(scores.softmax(-1)) @ v).transpose(1, 2).reshape(b, t, h)

    class NoPositionEmbeddings(R.Embeddings):
        def forward(self, ids, types):
            return self.dropout(self.LayerNorm(self.word_embeddings(ids) + self.token_type_embeddings(types)))

    R.SelfAttention, R.Embeddings = RelativeKeySelfAttention, NoPositionEmbeddings
elif POS != "absolute":
    sys.exit("usage: copy-toy-torch.py absolute|relative_key [STEPS] [BATCH] [LR]")

torch.set_num_threads(2)
torch.manual_seed(0)
random.seed(0)
c = R.config(vocab_size=V, embedding_size=128, hidden_size=128, num_hidden_layers=4, num_attention_heads=2,
             intermediate_size=512, hidden_dropout_prob=0.1, attention_probs_dropout_prob=0.1, max_position_embeddings=512)
model = R.ElectraForMaskedLM(c)
for m in model.modules():
    if isinstance(m, (nn.Linear, nn.Embedding)):
        m.weight.data.normal_(0, 0.02)
        if isinstance(m, nn.Linear) and m.bias is not None:
            m.bias.data.zero_()
    elif isinstance(m, nn.LayerNorm):
        m.weight.data.fill_(1)
        m.bias.data.zero_()
no_decay = lambda n: n.endswith("bias") or "LayerNorm" in n
opt = torch.optim.AdamW([
    {"params": [p for n, p in model.named_parameters() if not no_decay(n)], "weight_decay": 0.01},
    {"params": [p for n, p in model.named_parameters() if no_decay(n)], "weight_decay": 0.0}], lr=LR, eps=1e-6)
sched = torch.optim.lr_scheduler.LambdaLR(opt, lambda s: min((s + 1) / WARMUP, max(0.0, (STEPS - s) / (STEPS - WARMUP))))


def batch():
    ids = torch.zeros(B, T, dtype=torch.long)
    for b in range(B):
        seq = [CLS]
        while len(seq) < T - 1:
            w = random.randrange(5, V)
            seq += [w, w]
        ids[b] = torch.tensor(seq[:T - 1] + [SEP])
    return ids


loss_sum = acc_sum = 0.0
ones, zeros = torch.ones(B, T, dtype=torch.long), torch.zeros(B, T, dtype=torch.long)
for step in range(1, STEPS + 1):
    ids = batch()
    chosen = (torch.rand(B, T) < 0.15) & (ids > MASK)
    inp = ids.clone()
    inp[chosen & (torch.rand(B, T) < 0.85)] = MASK
    _, logits = model(inp, ones, zeros)
    loss = F.cross_entropy(logits[chosen], ids[chosen])
    opt.zero_grad()
    loss.backward()
    nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()
    sched.step()
    loss_sum += loss.item()
    acc_sum += (logits[chosen].argmax(-1) == ids[chosen]).float().mean().item()
    if step % 50 == 0:
        print(f"{POS} step {step}: masked-LM loss {loss_sum / 50:.3f}, accuracy {acc_sum / 50:.3f}", flush=True)
        loss_sum = acc_sum = 0.0
