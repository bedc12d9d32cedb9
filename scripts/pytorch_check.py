#!/usr/bin/env python3
"""Checks that RNNKit checkpoints and PyTorch agree, both ways.

1. PyTorch defines the module shown in README, loads RNNKit's model.safetensors with strict=True,
   and its logits on the first N test images must equal RNNKit's (`rnnkit eval mnist --save-logits`).
   For a `sequences` model (classifier, regressor or tagger), the inputs are N random sequences of
   random lengths, written to a .npz, standardised as config.json says and packed for PyTorch
   (`pack_padded_sequence`); RNNKit's outputs come from `rnnkit predict sequences --logits`.
   For a `forecast` model, a random series in a CSV with the model's columns is cut into windows by
   this script (numpy: differences or levels, training scaling, changes added back onto the last
   value) and compared with the forecasts `rnnkit eval forecast --out` writes for every test origin.
   For a `seq2seq` model, N random pairs from its vocabularies are written as a pairs file and the
   teacher-forced loss of the README's `Seq2Seq` module is compared with `rnnkit eval seq2seq`'s.
2. PyTorch initialises the same module with its own weights, saves model.safetensors and a
   config.json as README describes, and RNNKit must evaluate that folder to the same logits.

Run:  scripts/pytorch-check.sh --model runs/mnist-...   (makes a venv with torch on first use)
The test suite never needs this script or torch.
"""
import argparse
import csv
import gzip
import json
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np
import torch
from safetensors.torch import load_file, save_file
from torch import nn


class SequenceClassifier(nn.Module):
    """The PyTorch module with RNNKit's state-dict names (README, "Loading in PyTorch")."""

    def __init__(self, cfg):
        super().__init__()
        r = cfg["recurrent"]
        self.readout = cfg["readout"]
        self.directions = 2 if r["isBidirectional"] else 1
        self.proj = nn.Linear(cfg["features"], cfg["projection"]) if cfg.get("projection") else None
        kind = {"lstm": nn.LSTM, "gru": nn.GRU}.get(r["cell"])
        if kind is None:
            self.rnn = nn.RNN(r["inputSize"], r["hiddenSize"], r["numLayers"], batch_first=True,
                              bidirectional=r["isBidirectional"], nonlinearity=r["cell"][4:])
        else:
            self.rnn = kind(r["inputSize"], r["hiddenSize"], r["numLayers"], batch_first=True,
                            bidirectional=r["isBidirectional"])
        size = r["hiddenSize"] * self.directions
        if self.readout == "last" and r["isBidirectional"] and r.get("merge") == "sum":
            size = r["hiddenSize"]
        self.fc = nn.Linear(size, cfg["classes"])

    def forward(self, x, lengths=None):        # x: (B, T, F), pixels in [0, 1] or standardised features
        if self.proj is not None:
            x = self.proj(x)
        if lengths is not None:                # each sequence read to its own end
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
            out, state = self.rnn(packed)
            out, _ = nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        else:
            out, state = self.rnn(x)
        h = state[0] if isinstance(state, tuple) else state
        if self.readout == "steps":            # a prediction at every step (tagging)
            return self.fc(out)
        if self.readout == "last":
            last = (lengths - 1) if lengths is not None else torch.full((x.shape[0],), x.shape[1] - 1)
            features = out[torch.arange(x.shape[0]), last]
        else:
            features = torch.cat([h[-self.directions + d] for d in range(self.directions)], dim=1)
        return self.fc(features)


class Seq2Seq(nn.Module):
    """RNNKit's encoder–decoder with its state-dict names (README, "Sequence to sequence in PyTorch")."""

    def __init__(self, c):
        super().__init__()
        E, H, L, bi = c["embedding"], c["hidden"], c["layers"], c["bidirectional"]
        self.c, self.D, self.L, self.K = c, (2 if bi else 1), L, H * (2 if bi else 1)
        K, rnn = self.K, {"lstm": nn.LSTM, "gru": nn.GRU}[c["cell"]]
        between = c["dropout"] if L > 1 else 0.0
        self.source_embedding = nn.Embedding(c["sourceVocabulary"], E)
        self.encoder = rnn(E, H, L, batch_first=True, bidirectional=bi, dropout=between)
        self.bridge = nn.Linear(K, L * K)                      # final states → decoder's initial h
        self.bridge_cell = nn.Linear(K, L * K) if c["cell"] == "lstm" else None   # … and c
        self.target_embedding = nn.Embedding(c["targetVocabulary"], E)
        self.feeding = c["inputFeeding"] and c["attention"] != "none"
        self.decoder = rnn(E + (K if self.feeding else 0), K, L, batch_first=True, dropout=between)
        if c["attention"] != "none":
            self.attention = nn.Module()
            self.attention.query = nn.Linear(K, K, bias=False)      # Luong's W_a, or Bahdanau's W_2
            if c["attention"] == "bahdanau":
                self.attention.key = nn.Linear(K, K, bias=False)    # W_1
                self.attention.v = nn.Parameter(torch.empty(K).uniform_(-K ** -0.5, K ** -0.5))
            self.attention.combine = nn.Linear(2 * K, K)            # W_c [context; h]
        self.output = nn.Linear(K, c["targetVocabulary"])
        self.drop = nn.Dropout(c["dropout"])                        # on each stack's outputs

    def initial_state(self, layer, s):
        """The last layer's final states of both directions, [→; ←], through tanh(bridge), as (L, B, K)."""
        last = torch.cat([s[-self.D + d] for d in range(self.D)], dim=1)
        return torch.tanh(layer(last)).view(last.shape[0], self.L, self.K).transpose(0, 1).contiguous()

    def forward(self, src, lengths, previous):
        """src (B, S) ids padded with 0, lengths (B), previous (B, T): <s> y1 … → logits (B, T, V)."""
        x = self.source_embedding(src)
        packed = nn.utils.rnn.pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        out, state = self.encoder(packed)
        memory = self.drop(nn.utils.rnn.pad_packed_sequence(out, batch_first=True, total_length=src.shape[1])[0])
        if self.bridge_cell is not None:
            state = (self.initial_state(self.bridge, state[0]), self.initial_state(self.bridge_cell, state[1]))
        else:
            state = self.initial_state(self.bridge, state)
        kind = self.c["attention"]
        keys = self.attention.key(memory) if kind == "bahdanau" else None
        padding = torch.arange(src.shape[1])[None, :] >= lengths[:, None]
        feed = torch.zeros(src.shape[0], self.K)
        logits = []
        for t in range(previous.shape[1]):
            step = self.target_embedding(previous[:, t])
            if self.feeding:
                step = torch.cat([step, feed], dim=1)
            out, state = self.decoder(step[:, None], state)
            h = self.drop(out[:, 0])
            if kind == "none":
                logits.append(self.output(h))
                continue
            q = self.attention.query(h)
            scores = (torch.tanh(keys + q[:, None]) * self.attention.v).sum(-1) if keys is not None else (memory * q[:, None]).sum(-1)
            weights = torch.softmax(scores.masked_fill(padding, float("-inf")), dim=-1)
            context = (weights[:, :, None] * memory).sum(1)
            feed = torch.tanh(self.attention.combine(torch.cat([context, h], dim=1)))
            logits.append(self.output(feed))
        return torch.stack(logits, dim=1)


def teacher_forced_loss(module, sources, targets):
    """Mean cross-entropy over every target token and each target's end token (id 2), as RNNKit's."""
    B, S, T = len(sources), max(map(len, sources)), max(map(len, targets)) + 1
    src = torch.zeros(B, S, dtype=torch.long)
    previous = torch.zeros(B, T, dtype=torch.long)
    labels = torch.full((B, T), -100, dtype=torch.long)
    for b, (s, y) in enumerate(zip(sources, targets)):
        src[b, :len(s)] = torch.tensor(s)
        previous[b, :len(y) + 1] = torch.tensor([1] + y)
        labels[b, :len(y) + 1] = torch.tensor(y + [2])
    logits = module(src, torch.tensor([len(s) for s in sources]), previous)
    return nn.functional.cross_entropy(logits.reshape(B * T, -1), labels.reshape(-1), ignore_index=-100).item()


def main_seq2seq(args, cfg):
    """Random pairs from the model's vocabularies: RNNKit's teacher-forced loss (`rnnkit eval seq2seq`)
    against the README module's, both ways."""
    rng = np.random.default_rng(0)
    units = cfg["data"]["sourceTokens"], cfg["data"]["targetTokens"]
    vocabularies = cfg["sourceVocabulary"], cfg["targetVocabulary"]
    usable = [[i for i, t in enumerate(v) if i > 2 and t.strip() and "\t" not in t] for v in vocabularies]
    pairs = [[list(rng.choice(usable[k], size=rng.integers(1, 13))) for k in (0, 1)] for _ in range(args.count)]

    def text(ids, k):
        return ("" if units[k] == "chars" else " ").join(vocabularies[k][i] for i in ids)

    def rnnkit_loss(folder, path):
        out = subprocess.run([args.rnnkit, "eval", "seq2seq", "--model", folder, "--pairs", path, "--max-length", "2", "--json"],
                             check=True, capture_output=True, text=True).stdout.splitlines()[-1]
        return json.loads(out)["test_loss"]

    sources, targets = [[int(i) for i in p[0]] for p in pairs], [[int(i) for i in p[1]] for p in pairs]
    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "pairs.tsv")
        with open(path, "w", encoding="utf-8") as f:
            for s, y in zip(sources, targets):
                f.write(text(s, 0) + "\t" + text(y, 1) + "\n")
        module = Seq2Seq(cfg["model"]).eval()
        module.load_state_dict(load_file(os.path.join(args.model, "model.safetensors")), strict=True)
        with torch.no_grad():
            theirs = teacher_forced_loss(module, sources, targets)
        ours = rnnkit_loss(args.model, path)
        d1 = abs(ours - theirs)
        m = cfg["model"]
        print(f"RNNKit encoder–decoder ({m['cell']}, {'bidirectional ' if m['bidirectional'] else ''}{m['layers']} layer(s), "
              f"attention {m['attention']}{', input feeding' if m['inputFeeding'] and m['attention'] != 'none' else ''}) loaded by PyTorch (strict=True): "
              f"teacher-forced loss over {args.count} pairs {theirs:.6f} (PyTorch) vs {ours:.6f} (RNNKit), difference {d1:.3g}")
        torch.manual_seed(0)
        fresh = Seq2Seq(m).eval()
        folder = os.path.join(work, "from-pytorch")
        os.makedirs(folder)
        save_file({k: v.contiguous() for k, v in fresh.state_dict().items()}, os.path.join(folder, "model.safetensors"),
                  metadata={"format": "pt"})
        shutil.copy(os.path.join(args.model, "config.json"), folder)
        with torch.no_grad():
            theirs = teacher_forced_loss(fresh, sources, targets)
        ours = rnnkit_loss(folder, path)
        d2 = abs(ours - theirs)
        print(f"PyTorch-saved model.safetensors in RNNKit: loss {theirs:.6f} vs {ours:.6f}, difference {d2:.3g}")
    return d1, d2


def read_idx_images(path, n):
    with (gzip.open if path.endswith(".gz") else open)(path, "rb") as f:
        data = f.read()
    dims = [int.from_bytes(data[4 + 4 * i:8 + 4 * i], "big") for i in range(data[3])]
    images = np.frombuffer(data, dtype=np.uint8, offset=4 + 4 * len(dims)).reshape(dims)
    return torch.tensor(images[:n].astype(np.float32) / 255.0)


def test_images_path(folder):
    for name in ("t10k-images-idx3-ubyte.gz", "t10k-images-idx3-ubyte"):
        if os.path.exists(os.path.join(folder, name)):
            return os.path.join(folder, name)
    sys.exit(f"{folder}: no t10k-images-idx3-ubyte[.gz]")


def rnnkit_logits(rnnkit, model_dir, data, n, workdir):
    out = os.path.join(workdir, "logits.safetensors")
    subprocess.run([rnnkit, "eval", "mnist", "--model", model_dir, "--data", data, "--save-logits", out,
                    "--logits-count", str(n)], check=True, stdout=subprocess.DEVNULL)
    return load_file(out)["logits"]


def pytorch_folder(cfg, workdir):
    """A module PyTorch initialised (seed 0), saved as an RNNKit folder of cfg's task: model.safetensors
    and a config.json with the forget bias unfolded (PyTorch has none)."""
    torch.manual_seed(0)
    fresh = SequenceClassifier(cfg["model"]).eval()
    folder = os.path.join(workdir, "from-pytorch")
    os.makedirs(folder)
    save_file({k: v.contiguous() for k, v in fresh.state_dict().items()}, os.path.join(folder, "model.safetensors"),
              metadata={"format": "pt"})
    config = {"format": "rnnkit", "version": 1, "task": cfg["task"], "model": dict(cfg["model"]), "data": cfg["data"]}
    config["model"]["recurrent"] = dict(cfg["model"]["recurrent"], forgetBias=0)
    json.dump(config, open(os.path.join(folder, "config.json"), "w"), indent=1)
    return fresh, folder


def random_sequences(cfg, n, workdir):
    """n random sequences of random lengths in a .npz, and PyTorch's standardised inputs and lengths."""
    rng = np.random.default_rng(0)
    steps, features = max(cfg["data"]["steps"], 2), cfg["data"]["features"]
    lengths = rng.integers(1, steps + 1, size=n)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    path = os.path.join(workdir, "inputs.npz")
    np.savez(path, x=x, lengths=lengths)
    scaling = cfg["data"].get("featureScaling")
    scaled = (x - np.array(scaling["mean"])) / np.array(scaling["standardDeviation"]) if scaling else x
    return path, torch.tensor(scaled.astype(np.float32)), torch.tensor(lengths)


def rnnkit_outputs(rnnkit, model_dir, path, cfg, lengths):
    """`rnnkit predict sequences --logits` as a (N, outputs) or, for a tagger, (N, T, outputs) tensor."""
    text = subprocess.run([rnnkit, "predict", "sequences", "--model", model_dir, "--data", path, "--logits"],
                          check=True, capture_output=True, text=True).stdout.splitlines()
    header = text[0].split(",")
    first = 2 if header[1] == "predicted" else 1
    if "step" in header:
        first = header.index("step") + (2 if "predicted" in header else 1)
    rows = [[float(v) for v in line.split(",")[first:]] for line in text[1:]]
    if cfg["model"]["readout"] != "steps":
        return torch.tensor(rows)
    out = torch.zeros(len(lengths), max(cfg["data"]["steps"], 2), len(rows[0]))
    k = 0
    for b, n in enumerate(lengths.tolist()):
        out[b, :n] = torch.tensor(rows[k:k + n])
        k += n
    return out


def compare(theirs, ours, lengths):
    """Largest difference, over real steps only for a tagger."""
    if theirs.dim() == 3:
        mask = torch.arange(theirs.shape[1])[None, :] < lengths[:, None]
        return (ours - theirs)[mask].abs().max().item()
    return (ours - theirs).abs().max().item()


def main_sequences(args, cfg):
    module = SequenceClassifier(cfg["model"]).eval()
    module.load_state_dict(load_file(os.path.join(args.model, "model.safetensors")), strict=True)
    kind = "tagger" if cfg["model"]["readout"] == "steps" else cfg["data"].get("objective", "classification")
    scaling = cfg["data"].get("targetScaling")
    unscale = (lambda y: y * torch.tensor(scaling["standardDeviation"]).float() + torch.tensor(scaling["mean"]).float()) \
        if scaling else (lambda y: y)
    with tempfile.TemporaryDirectory() as work:
        path, x, lengths = random_sequences(cfg, args.count, work)
        with torch.no_grad():
            theirs = unscale(module(x, lengths))
        d1 = compare(theirs, rnnkit_outputs(args.rnnkit, args.model, path, cfg, lengths), lengths)
        print(f"RNNKit {kind} loaded by PyTorch (strict=True): max |output difference| over {args.count} sequences "
              f"of lengths 1–{x.shape[1]} = {d1:.3g}")
        fresh, folder = pytorch_folder(cfg, work)
        with torch.no_grad():
            theirs = unscale(fresh(x, lengths))
        d2 = compare(theirs, rnnkit_outputs(args.rnnkit, folder, path, cfg, lengths), lengths)
        print(f"PyTorch-saved model.safetensors run by RNNKit: max |output difference| = {d2:.3g}")
    return d1, d2


def main_forecast(args, cfg):
    """Forecasts at every origin of a random series: PyTorch's module on windows this script cuts,
    against RNNKit's forecast.csv; differences in units of each target's training deviation."""
    setup, data = cfg["data"]["forecast"], cfg["data"]
    columns = setup["targets"] + [f for f in setup["features"] if f not in setup["targets"]]
    W, H, K = setup["window"], setup["horizon"], len(setup["targets"])
    difference = setup["mode"] == "difference"
    first = W + (1 if difference else 0)
    test = args.count + H - 1                       # `count` origins
    n = first + H + test                            # one training window, as eval asks
    mean, std = np.array(data["featureScaling"]["mean"]), np.array(data["featureScaling"]["standardDeviation"])
    rng = np.random.default_rng(0)
    series = (mean + std * np.cumsum(rng.normal(size=(n, len(columns))) * 0.3, axis=0)).astype(np.float32)
    target_std = std[:K]

    def windows(values):
        """PyTorch's inputs and each origin's last target values, as RNNKit cuts them (float32 values)."""
        starts = range(n - test, n - H + 1)
        x, last = [], []
        for s in starts:
            w = values[s - W - 1:s] if difference else values[s - W:s]
            w = (w[1:] - w[:-1]) if difference else w   # float32 differences, as RNNKit takes them
            x.append(((w.astype(np.float64) - mean) / std).astype(np.float32))
            last.append(values[s - 1, :K])
        return torch.tensor(np.stack(x)), np.stack(last), list(starts)

    def unscale(y):
        t = data["targetScaling"]
        y = (y.numpy().astype(np.float64) * np.array(t["standardDeviation"]) + np.array(t["mean"])).astype(np.float32)
        if setup["mode"] != "absolute":
            y = (y.reshape(len(y), H, K) + last[:, None, :]).reshape(len(y), H * K)
        return y

    def rnnkit_forecasts(model_dir, work):
        out = os.path.join(work, "eval-" + os.path.basename(model_dir))
        subprocess.run([args.rnnkit, "eval", "forecast", "--model", model_dir, "--csv", path, "--test", str(test), "--out", out],
                       check=True, stdout=subprocess.DEVNULL)
        rows = list(csv.DictReader(open(os.path.join(out, "forecast.csv"))))
        ours = np.zeros((len(starts), H * K), dtype=np.float64)
        for r in rows:                              # origin_time is the row number of the step before the origin
            ours[starts.index(int(r["origin_time"])), (int(r["step"]) - 1) * K + setup["targets"].index(r["target"])] = float(r["forecast"])
        return ours

    def difference_of(theirs, ours):
        return (np.abs(ours - theirs).reshape(len(ours), H, K) / target_std).max()

    with tempfile.TemporaryDirectory() as work:
        path = os.path.join(work, "series.csv")
        header = columns + [c for c in [setup.get("time"), setup.get("group")] if c]
        with open(path, "w") as f:
            f.write(",".join(header) + "\n")
            for t in range(n):
                extra = ([str(t + 1)] if setup.get("time") else []) + (["g"] if setup.get("group") else [])
                f.write(",".join(["%.9g" % v for v in series[t]] + extra) + "\n")
        x, last, starts = windows(series)
        module = SequenceClassifier(cfg["model"]).eval()
        module.load_state_dict(load_file(os.path.join(args.model, "model.safetensors")), strict=True)
        with torch.no_grad():
            theirs = unscale(module(x))
        d1 = difference_of(theirs, rnnkit_forecasts(args.model, work))
        print(f"RNNKit forecaster ({setup['mode']}, window {W}, horizon {H}, {K} target(s), {len(columns)} input column(s)) "
              f"loaded by PyTorch (strict=True): max |forecast difference| over {len(starts)} origins = {d1:.3g} target deviations")
        fresh, folder = pytorch_folder(cfg, work)
        with torch.no_grad():
            theirs = unscale(fresh(x))
        d2 = difference_of(theirs, rnnkit_forecasts(folder, work))
        print(f"PyTorch-saved model.safetensors forecasting in RNNKit: max |forecast difference| = {d2:.3g} target deviations")
    return d1, d2


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", required=True, help="an RNNKit checkpoint folder")
    p.add_argument("--rnnkit", default=".build/release/rnnkit")
    p.add_argument("--data", default=None)
    p.add_argument("--count", type=int, default=1000)
    args = p.parse_args()
    torch.set_num_threads(2)
    cfg = json.load(open(os.path.join(args.model, "config.json")))
    if cfg["task"] in ("sequences", "forecast", "seq2seq"):
        d1, d2 = {"sequences": main_sequences, "forecast": main_forecast, "seq2seq": main_seq2seq}[cfg["task"]](args, cfg)
        ok = d1 <= 1e-4 and d2 <= 1e-4
        print("agree to 1e-4" if ok else "DISAGREE beyond 1e-4")
        sys.exit(0 if ok else 1)
    data = args.data or cfg["data"]["source"]
    x = read_idx_images(test_images_path(data), args.count)

    # 1. RNNKit → PyTorch
    module = SequenceClassifier(cfg["model"]).eval()
    module.load_state_dict(load_file(os.path.join(args.model, "model.safetensors")), strict=True)
    with torch.no_grad():
        theirs = module(x)
    with tempfile.TemporaryDirectory() as work:
        ours = rnnkit_logits(args.rnnkit, args.model, data, args.count, work)
        d1 = (ours - theirs).abs().max().item()
        print(f"RNNKit checkpoint loaded by PyTorch (strict=True): max |logit difference| over {args.count} images = {d1:.3g}")

        # 2. PyTorch → RNNKit
        fresh, folder = pytorch_folder(cfg, work)
        with torch.no_grad():
            theirs = fresh(x)
        ours = rnnkit_logits(args.rnnkit, folder, data, args.count, work)
        d2 = (ours - theirs).abs().max().item()
        print(f"PyTorch-saved model.safetensors evaluated by RNNKit: max |logit difference| over {args.count} images = {d2:.3g}")
    ok = d1 <= 1e-4 and d2 <= 1e-4
    print("agree to 1e-4" if ok else "DISAGREE beyond 1e-4")
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
