#!/usr/bin/env python3
"""Trains the same character model in RNNKit and in PyTorch for a fixed budget of steps and compares
their validation losses (nats per character).

Both sides use the same text (ANSI escapes stripped the same way), the same vocabulary (Unicode
scalars sorted by code point), the same split (last fraction held out), the same batching (B
contiguous streams, T steps per batch, state carried and detached, reset every epoch), the same
model (embedding, LSTM stack, dropout after each layer, dense to logits; PyTorch's default
initialisation on both sides), Adam with global-norm clipping, and the same evaluation (B streams,
carried state). Only the random numbers differ.

Both sides are run once per seed (--seeds 0 1 2) and the verdict compares the mean validation
losses: after a few hundred steps the seed alone moves either framework's loss by 1-3 %, so a
single pair of runs says more about initialisation luck than about the implementation.

Run:  benchmarks/charlm-compare.sh --preset tang --steps 240 --seeds 0 1 2
      (makes a venv with torch on first use; the test suite never needs it)
"""
import argparse
import json
import math
import re
import subprocess
import sys
import time

import torch
from torch import nn

ANSI = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|.)", re.S)
ENGLISH = ["art", "ascii-art", "computers", "cookie", "debian", "definitions", "disclaimer", "drugs", "education",
           "ethnic", "food", "fortunes", "goedel", "humorists", "kids", "knghtbrd", "law", "linux", "linuxcookie",
           "literature", "love", "magic", "medicine", "men-women", "miscellaneous", "news", "paradoxum", "people",
           "perl", "pets", "platitudes", "politics", "pratchett", "riddles", "science", "songs-poems", "sports",
           "startrek", "tao", "translate-me", "wisdom", "work", "zippy"]
PRESETS = {  # the same settings as RNNKit's presets (CharLMPresets.swift)
    "tang": dict(files=["/usr/share/games/fortunes/tang300"], embedding=128, hidden=256, layers=2, dropout=0.2,
                 seq=64, batch=32, lr=2e-3, clip=5.0, validation=0.1),
    "fortunes": dict(files=[f"/usr/share/games/fortunes/{n}" for n in ENGLISH], embedding=64, hidden=256, layers=2,
                     dropout=0.2, seq=100, batch=64, lr=2e-3, clip=5.0, validation=0.05),
}


class CharLM(nn.Module):
    def __init__(self, vocab, embedding, hidden, layers, dropout):
        super().__init__()
        self.embedding = nn.Embedding(vocab, embedding)
        self.rnn = nn.LSTM(embedding, hidden, layers, batch_first=True, dropout=dropout if layers > 1 else 0.0)
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden, vocab)

    def forward(self, x, state):
        out, state = self.rnn(self.embedding(x), state)
        return self.fc(self.drop(out)), state


def windows(ids, streams, steps):
    length = (len(ids) - 1) // streams
    data = torch.tensor(ids[: streams * length + 1])
    for w in range((length + steps - 1) // steps):
        start = w * steps
        t = min(steps, length - start)
        idx = torch.arange(streams)[:, None] * length + start + torch.arange(t)[None, :]
        yield data[idx], data[idx + 1]


def evaluate(model, ids, streams, steps):
    model.eval()
    total, count, state = 0.0, 0, None
    with torch.no_grad():
        for x, y in windows(ids, min(streams, len(ids) - 1), steps):
            logits, state = model(x, state)
            total += nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), y.reshape(-1), reduction="sum").item()
            count += y.numel()
    model.train()
    return total / count


def pytorch_run(train, val, vocab, p, steps, seed):
    torch.manual_seed(seed)
    model = CharLM(vocab, p["embedding"], p["hidden"], p["layers"], p["dropout"])
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    done, start = 0, time.time()
    while done < steps:
        state = None
        for x, y in windows(train, p["batch"], p["seq"]):
            logits, state = model(x, state)
            state = tuple(s.detach() for s in state)
            loss = nn.functional.cross_entropy(logits.reshape(-1, vocab), y.reshape(-1))
            opt.zero_grad()
            loss.backward()
            nn.utils.clip_grad_norm_(model.parameters(), p["clip"])
            opt.step()
            done += 1
            if done == steps:
                break
    seconds = time.time() - start
    return evaluate(model, val, p["batch"], p["seq"]), seconds, model


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--preset", choices=sorted(PRESETS), required=True)
    ap.add_argument("--steps", type=int, default=300)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rnnkit", default=".build/release/rnnkit")
    ap.add_argument("--out", default="runs/compare")
    args = ap.parse_args()
    torch.set_num_threads(2)
    p = PRESETS[args.preset]
    text = "".join(ANSI.sub("", open(f, encoding="utf-8").read()) for f in p["files"])
    chars = sorted(set(text))
    index = {c: i for i, c in enumerate(chars)}
    ids = [index[c] for c in text]
    held = int(len(ids) * p["validation"])
    train, val = ids[: len(ids) - held], ids[len(ids) - held:]
    print(f"{args.preset}: {len(train)} training and {len(val)} validation characters, vocabulary {len(chars)}, "
          f"budget {args.steps} steps of batch {p['batch']} × seq {p['seq']}")

    ours, theirs = [], []
    for seed in args.seeds:
        out = f"{args.out}-{args.preset}-seed{seed}"
        cmd = [args.rnnkit, "train", "text", "--preset", args.preset, "--steps", str(args.steps), "--seed", str(seed),
               "--eval-every", str(10 ** 9), "--out", out, "--json"]
        subprocess.run(["rm", "-rf", out], check=True)
        start = time.time()
        result = subprocess.run(cmd, check=True, capture_output=True, text=True)
        rnnkit_seconds = time.time() - start
        ours.append(json.loads(result.stdout.strip().splitlines()[-1])["validation_loss"])
        loss, torch_seconds, _ = pytorch_run(train, val, len(chars), p, args.steps, seed)
        theirs.append(loss)
        print(f"seed {seed}: validation loss after {args.steps} steps: RNNKit {ours[-1]:.4f} ({ours[-1] / math.log(2):.3f} bits/char, "
              f"{rnnkit_seconds:.0f} s), PyTorch {theirs[-1]:.4f} ({theirs[-1] / math.log(2):.3f} bits/char, {torch_seconds:.0f} s); "
              f"ratio {ours[-1] / theirs[-1]:.4f}", flush=True)
    mean_ours, mean_theirs = sum(ours) / len(ours), sum(theirs) / len(theirs)
    ratio = mean_ours / mean_theirs
    print(f"mean over seeds {args.seeds}: RNNKit {mean_ours:.4f} ({mean_ours / math.log(2):.3f} bits/char), "
          f"PyTorch {mean_theirs:.4f} ({mean_theirs / math.log(2):.3f} bits/char); RNNKit/PyTorch = {ratio:.4f}")
    print("within 2%" if abs(ratio - 1) <= 0.02 else "NOT within 2%")
    sample = subprocess.run([args.rnnkit, "sample", "text", "--model", out, "--length", "300", "--seed", "1"],
                            check=True, capture_output=True, text=True).stdout
    print("RNNKit sample:\n" + sample)
    sys.exit(0 if abs(ratio - 1) <= 0.02 else 1)


if __name__ == "__main__":
    main()
