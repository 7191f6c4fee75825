"""PyTorch reference for the character-level LSTM benchmark.

Builds the same model as the TensorFlow.js trainer (Embedding -> LSTM -> Linear)
and measures, on CPU:
  * training throughput (tokens/s) for forward + backward + grad clip + Adam step,
  * generation latency of one 七言绝句 (34 sequential batch-1 steps, top-k 40),
  * checkpoint load time (torch.load + load_state_dict),
  * peak resident memory.
Prints exactly one JSON object on stdout; everything else goes to stderr.

Run by `tangshi bench` in a venv it creates (.venv-bench, with pip's current torch).
Threads: OPENBLAS_NUM_THREADS=1 must be set before torch is imported so that
OpenBLAS does not spawn its own pool on top of torch's intra-op threads; with
that, torch.set_num_threads(2) was the measured-best setting on the 2-core
benchmark machine (override with --threads).
"""
import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import argparse
import json
import resource
import statistics
import sys
import tempfile
import time

import torch
import torch.nn as nn

QUATRAIN_STEPS = 34  # tokens in one 七言绝句 (28 characters + punctuation/markers)


class CharLSTM(nn.Module):
    def __init__(self, vocab, embed, hidden, layers, dropout=0.0):
        super().__init__()
        self.embed = nn.Embedding(vocab, embed)
        # dropout as ours: on the embedding and on each layer's output (nn.LSTM drops between layers)
        self.drop = nn.Dropout(dropout)
        self.lstm = nn.LSTM(embed, hidden, num_layers=layers, dropout=dropout if layers > 1 else 0.0)  # time-major [T, B, E]
        self.head = nn.Linear(hidden, vocab)

    def forward(self, x, state=None):
        out, state = self.lstm(self.drop(self.embed(x)), state)
        return self.head(self.drop(out)), state


def train_tokens_per_s(model, args):
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    loss_fn = nn.CrossEntropyLoss()
    x = torch.randint(0, args.vocab, (args.seq_len, args.batch))
    y = torch.randint(0, args.vocab, (args.seq_len, args.batch))

    def step():
        opt.zero_grad()
        logits, _ = model(x)
        loss = loss_fn(logits.reshape(-1, args.vocab), y.reshape(-1))
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        return loss.item()

    model.train()
    for _ in range(args.warmup):
        step()
    t0 = time.perf_counter()
    for _ in range(args.steps):
        loss = step()
    elapsed = time.perf_counter() - t0
    print(f"train: {args.steps} steps in {elapsed:.2f}s, last loss {loss:.3f}", file=sys.stderr)
    return args.steps * args.batch * args.seq_len / elapsed


@torch.no_grad()
def generate(model, vocab, k=40, temperature=1.0):
    token, state = torch.randint(0, vocab, (1, 1)), None
    out = []
    for _ in range(QUATRAIN_STEPS):
        logits, state = model(token, state)
        probs = torch.softmax(logits[0, 0] / temperature, dim=-1)
        top_p, top_i = probs.topk(k)
        token = top_i[torch.multinomial(top_p, 1)].view(1, 1)
        out.append(token.item())
    return out


def quatrain_latency_ms(model, args):
    model.eval()
    generate(model, args.vocab)  # warm-up
    times = []
    for _ in range(args.gen_runs):
        t0 = time.perf_counter()
        generate(model, args.vocab)
        times.append((time.perf_counter() - t0) * 1000)
    times.sort()
    p99 = times[max(0, -(-99 * len(times) // 100) - 1)]  # nearest rank
    return statistics.median(times), p99


def load_ms(model):
    with tempfile.NamedTemporaryFile(suffix=".pt") as f:
        torch.save(model.state_dict(), f.name)
        times = []
        for _ in range(5):
            t0 = time.perf_counter()
            model.load_state_dict(torch.load(f.name))
            times.append((time.perf_counter() - t0) * 1000)
    return statistics.median(times)


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--vocab", type=int, default=6000)
    p.add_argument("--embed", type=int, default=128)
    p.add_argument("--hidden", type=int, default=256)
    p.add_argument("--layers", type=int, default=1)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--seq-len", type=int, default=48)
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--gen-runs", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--dropout", type=float, default=0.0)
    p.add_argument("--train-only", action="store_true", help="measure training throughput only")
    args = p.parse_args()

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = CharLSTM(args.vocab, args.embed, args.hidden, args.layers, args.dropout)

    tokens_per_s = train_tokens_per_s(model, args)
    if args.train_only:
        print(json.dumps({"framework": "pytorch", "torch_version": torch.__version__, "threads": torch.get_num_threads(),
                          "train_tokens_per_s": round(tokens_per_s, 1)}))
        return
    p50, p99 = quatrain_latency_ms(model, args)
    result = {
        "framework": "pytorch",
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "config": {k: getattr(args, k) for k in
                   ("vocab", "embed", "hidden", "layers", "batch", "seq_len")},
        "train_tokens_per_s": round(tokens_per_s, 1),
        "quatrain_ms_p50": round(p50, 2),
        "quatrain_ms_p99": round(p99, 2),
        "load_ms": round(load_ms(model), 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }
    print(json.dumps(result))


if __name__ == "__main__":
    main()
