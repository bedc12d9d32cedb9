#!/usr/bin/env python3
"""RNNKit's `train sequences` beside a plain PyTorch model of the same size, trained the same way,
on UEA/UCR .ts classification sets, over several seeds.

Both sides: features standardised with the training split's statistics (missing values → 0), a
tenth of the training file held out (not trained on) by RNNKit's rule (validation_split below), sequences read to their own lengths
(PyTorch: pack_padded_sequence), the same cell, size and readout, Adam, the same batch and epochs,
minibatches in a fresh random order each epoch, and the model after the last epoch scored on the
test file. Only the random draws differ (each side's own initialisation and order for a seed).

Run (makes the torch venv on first use):
  bash benchmarks/with-torch.sh benchmarks/sequences_compare.py --train A_TRAIN.ts --test A_TEST.ts [--seeds 3]
Extra flags after `--` go to `rnnkit train sequences` and set the PyTorch side the same way
(--hidden, --cell, --layers, --bidirectional, --readout, --epochs, --batch, --lr, --dropout).
"""
import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np
import torch
from torch import nn


def read_ts(path):
    """(list of (T_i, F) arrays, list of class names) from a .ts classification file."""
    classes, cases, labels, in_data = None, [], [], False
    for line in open(path, encoding="utf-8"):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            words = line.split()
            tag = words[0].lower()
            if tag == "@classlabel" and words[1].lower() == "true":
                classes = words[2:]
            elif tag == "@data":
                in_data = True
            continue
        *dims, label = line.split(":")
        series = [[np.nan if v.strip() in ("?", "NaN", "nan") else float(v) for v in d.split(",")] for d in dims]
        cases.append(np.array(series, dtype=np.float64).T)
        labels.append(classes.index(label.strip()))
    return cases, labels, classes


class Model(nn.Module):
    def __init__(self, features, hidden, classes, cell, layers, bidirectional, readout, dropout):
        super().__init__()
        kind = {"lstm": nn.LSTM, "gru": nn.GRU, "rnn": nn.RNN}[cell]
        self.rnn = kind(features, hidden, layers, batch_first=True, bidirectional=bidirectional,
                        dropout=dropout if layers > 1 else 0)
        self.directions = 2 if bidirectional else 1
        self.readout = readout
        self.drop = nn.Dropout(dropout)
        self.fc = nn.Linear(hidden * self.directions, classes)

    def forward(self, x, lengths):
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.rnn(packed)
        h = state[0] if isinstance(state, tuple) else state
        if self.readout == "last":
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
            features = out[torch.arange(x.shape[0]), lengths - 1]
        else:
            features = torch.cat([h[-self.directions + d] for d in range(self.directions)], dim=1)
        return self.fc(self.drop(features))


def batch(cases, indices, mean, std):
    lengths = torch.tensor([len(cases[i]) for i in indices])
    x = torch.zeros(len(indices), int(lengths.max()), cases[0].shape[1])
    for b, i in enumerate(indices):
        c = np.nan_to_num((cases[i] - mean) / std, nan=0.0)
        x[b, :len(c)] = torch.tensor(c, dtype=torch.float32)
    return x, lengths


def validation_split(labels, count):
    """SequenceDataset.validationSplit: sorted stably by class, positions ⌊(k + ½)·n / count⌋ held out."""
    n = len(labels)
    order = sorted(range(n), key=lambda i: (labels[i], i))
    held = {order[min((2 * k + 1) * n // (2 * count), n - 1)] for k in range(min(count, n))} if count else set()
    return [i for i in range(n) if i not in held]


def pytorch_run(train, test, classes, seed, o):
    torch.manual_seed(seed)
    rng = np.random.default_rng(seed)
    all_cases, all_labels = train
    kept = validation_split(all_labels, len(all_cases) // 10)
    cases, labels = [all_cases[i] for i in kept], [all_labels[i] for i in kept]
    n_train = len(cases)
    stacked = np.concatenate(cases)
    mean, std = np.nanmean(stacked, 0), np.nanstd(stacked, 0)
    std[~(std > 1e-12)] = 1
    model = Model(cases[0].shape[1], o.hidden, len(classes), o.cell, o.layers, o.bidirectional, o.readout, o.dropout)
    opt = torch.optim.Adam(model.parameters(), lr=o.lr)
    y = torch.tensor(labels)
    start = time.time()
    for _ in range(o.epochs):
        model.train()
        order = rng.permutation(n_train)
        for k in range(0, n_train, o.batch):
            idx = order[k:k + o.batch]
            x, lengths = batch(cases, idx, mean, std)
            loss = nn.functional.cross_entropy(model(x, lengths), y[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
    seconds = time.time() - start
    model.eval()
    test_cases, test_labels = test
    with torch.no_grad():
        x, lengths = batch(test_cases, range(len(test_cases)), mean, std)
        predicted = model(x, lengths).argmax(1)
    return float((predicted == torch.tensor(test_labels)).float().mean()), seconds


def rnnkit_run(rnnkit, train_path, test_path, seed, extra):
    with tempfile.TemporaryDirectory() as out:
        start = time.time()
        r = subprocess.run([rnnkit, "train", "sequences", "--data", train_path, "--test", test_path, "--seed", str(seed),
                            "--out", os.path.join(out, "run"), "--json"] + extra, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit(r.stderr)
        return json.loads(r.stdout.strip().splitlines()[-1])["test_accuracy"], time.time() - start


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--train", required=True)
    p.add_argument("--test", required=True)
    p.add_argument("--seeds", type=int, default=3)
    p.add_argument("--rnnkit", default=".build/release/rnnkit")
    p.add_argument("--threads", type=int, default=2)
    args, extra = p.parse_known_args()
    extra = [e for e in extra if e != "--"]
    o = argparse.ArgumentParser()
    o.add_argument("--hidden", type=int, default=128)
    o.add_argument("--cell", default="lstm")
    o.add_argument("--layers", type=int, default=1)
    o.add_argument("--bidirectional", action="store_true")
    o.add_argument("--readout", default="final")
    o.add_argument("--epochs", type=int, default=100)
    o.add_argument("--batch", type=int, default=32)
    o.add_argument("--lr", type=float, default=1e-3)
    o.add_argument("--dropout", type=float, default=0.0)
    opts, unknown = o.parse_known_args(extra)
    if unknown:
        sys.exit(f"flags the PyTorch side cannot mirror: {unknown}")
    torch.set_num_threads(args.threads)
    cases, labels, classes = read_ts(args.train)
    test_cases, test_labels, test_classes = read_ts(args.test)
    test_labels = [classes.index(test_classes[c]) for c in test_labels]
    name = os.path.basename(args.train).replace("_TRAIN.ts", "")
    ours, theirs = [], []
    for seed in range(args.seeds):
        a, s1 = rnnkit_run(args.rnnkit, args.train, args.test, seed, extra)
        b, s2 = pytorch_run((cases, labels), (test_cases, test_labels), classes, seed, opts)
        ours.append(a)
        theirs.append(b)
        print(f"{name} seed {seed}: RNNKit {100 * a:.1f}% ({s1:.0f} s)   PyTorch {100 * b:.1f}% ({s2:.0f} s)", flush=True)
    mean = lambda v: 100 * statistics.mean(v)
    sd = lambda v: 100 * statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"{name} {' '.join(extra) or 'defaults'}: RNNKit {mean(ours):.1f} ± {sd(ours):.1f}%   "
          f"PyTorch {mean(theirs):.1f} ± {sd(theirs):.1f}%   ({args.seeds} seeds, {len(test_cases)} test sequences)")


if __name__ == "__main__":
    main()
