#!/usr/bin/env python3
"""Trains the same encoder–decoder in RNNKit and in PyTorch for the same number of steps, on the
same pairs, once per seed, and compares their test sequence error rates and training speed.

The pairs are written here, once, as train.tsv and test.tsv (a seeded split by distinct source),
and both sides read them:
  - addition: Keras's addition_rnn problems "535+61" → "596" (operands of 1–3 digits), chars → chars;
  - g2p: Festival's CMU dictionary (Debian festlex-cmu), spelling → phones with stress, chars → words.
The model is the README's `Seq2Seq` module (scripts/pytorch_check.py) on the PyTorch side, with the
RNNKit preset's sizes: embedding, bidirectional LSTM encoder, bridge, Luong attention with input
feeding, dropout. Both sides train with Adam and global-norm clipping 5 on minibatches of the same
size drawn in a random order each epoch (their own random numbers), the loss the mean cross-entropy
over real target tokens; no validation. The test set is decoded greedily by each side and scored
against the closest reference (sequence error rate, as RNNKit's SequenceScores).

Speed is training tokens per second: the target tokens (end tokens included) of the pairs trained
on, over the training loop's seconds (RNNKit: its reported time, without loading or testing;
PyTorch: the loop alone). Both sides use 2 threads.

Run:  benchmarks/seq2seq-compare.sh --task g2p --steps 1500 --seeds 0 1 2
      (makes a venv with torch on first use; the test suite never needs it)
"""
import argparse
import json
import os
import random
import re
import subprocess
import sys
import time

import torch
from torch import nn

sys.path.insert(0, os.path.join(os.path.dirname(__file__), "..", "scripts"))
from pytorch_check import Seq2Seq  # noqa: E402  (the README's module)

TASKS = {  # the RNNKit presets' settings (Seq2SeqPresets.swift)
    "addition": dict(units=("chars", "chars"), embedding=16, hidden=64, dropout=0.0, batch=64, lr=5e-3, test=2500),
    "g2p": dict(units=("chars", "words"), embedding=64, hidden=128, dropout=0.2, batch=64, lr=2e-3, test=10000),
}
VOWELS = {"aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "er", "ey", "ih", "iy", "ow", "oy", "uh", "uw"}


def addition_pairs(count=50000, digits=3, seed=0):
    rng, seen, pairs = random.Random(seed), set(), []
    while len(pairs) < count:
        a, b = (int("".join(rng.choice("0123456789") for _ in range(rng.randint(1, digits)))) for _ in range(2))
        if (min(a, b), max(a, b)) in seen:
            continue
        seen.add((min(a, b), max(a, b)))
        pairs.append((f"{a}+{b}", str(a + b)))
    return pairs


def g2p_pairs(path="/usr/share/festival/dicts/cmu/cmudict-0.4.out"):
    """("word" pos (((p h) 1) ((p h) 0))): lower-case phones, each vowel with its syllable's stress."""
    pairs = []
    for line in open(path, encoding="utf-8"):
        m = re.match(r'\("([^"]*)" \S+ \((.*)\)\)\s*$', line.strip())
        if not m:
            continue
        phones = []
        for syllable, stress in re.findall(r"\(\(([^()]*)\) (\d)\)", m.group(2)):
            phones += [p + stress if p in VOWELS else p for p in syllable.split()]
        if phones:
            pairs.append((m.group(1).lower(), " ".join(phones)))
    return pairs


def tokens(text, unit):
    return list(text) if unit == "chars" else text.split()


def split(pairs, test, seed=0):
    """A seeded split by distinct source: `test` sources' pairs for the test, the rest for training."""
    sources = sorted({s for s, _ in pairs})
    random.Random(seed).shuffle(sources)
    held = set(sources[:test])
    return [p for p in pairs if p[0] not in held], [p for p in pairs if p[0] in held]


def batches(data, batch, steps, rng):
    """Minibatches of `batch` pairs in a fresh random order each epoch, `steps` of them."""
    done = 0
    while True:
        order = list(range(len(data)))
        rng.shuffle(order)
        for i in range(0, len(order), batch):
            yield [data[k] for k in order[i:i + batch]]
            done += 1
            if done == steps:
                return


def padded(rows, pad=0):
    out = torch.full((len(rows), max(map(len, rows))), pad, dtype=torch.long)
    for b, r in enumerate(rows):
        out[b, :len(r)] = torch.tensor(r)
    return out


def greedy(model, sources, max_length):
    """Batched greedy decoding (padding and start tokens never chosen), as RNNKit's."""
    model.eval()
    outputs = []
    with torch.no_grad():
        for i in range(0, len(sources), 256):
            part = sources[i:i + 256]
            B = len(part)
            result, done = [[] for _ in part], [False] * B
            previous = torch.full((B, 1), 1, dtype=torch.long)
            # Decode by re-running teacher forcing on the prefix: simple and exact (the module has no step API).
            for _ in range(max_length):
                logits = model(padded(part), torch.tensor([len(s) for s in part]), previous)[:, -1]
                logits[:, :2] = float("-inf")
                nxt = logits.argmax(-1)
                for b in range(B):
                    if not done[b]:
                        if nxt[b].item() == 2:
                            done[b] = True
                        else:
                            result[b].append(nxt[b].item())
                if all(done):
                    break
                previous = torch.cat([previous, nxt[:, None]], dim=1)
            outputs += result
    model.train()
    return outputs


def sequence_error_rate(outputs, references):
    return sum(o not in refs for o, refs in zip(outputs, references)) / len(outputs)


def pytorch_run(train, test_sources, test_refs, vocab_sizes, p, steps, seed, max_length):
    torch.manual_seed(seed)
    config = dict(sourceVocabulary=vocab_sizes[0], targetVocabulary=vocab_sizes[1], embedding=p["embedding"], cell="lstm",
                  hidden=p["hidden"], layers=1, bidirectional=True, dropout=p["dropout"], attention="luong", inputFeeding=True)
    model = Seq2Seq(config)
    opt = torch.optim.Adam(model.parameters(), lr=p["lr"])
    rng = random.Random(seed)
    tokens_seen, start = 0, time.time()
    for batch in batches(train, p["batch"], steps, rng):
        sources, targets = [s for s, _ in batch], [t for _, t in batch]
        previous = padded([[1] + t for t in targets])                # <s> y1 … yn reads, predicting y1 … yn </s>
        labels = padded([t + [2] for t in targets], pad=-100)
        logits = model(padded(sources), torch.tensor([len(s) for s in sources]), previous)
        loss = nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), labels.reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        nn.utils.clip_grad_norm_(model.parameters(), 5.0)
        opt.step()
        tokens_seen += sum(len(t) + 1 for t in targets)
    seconds = time.time() - start
    outputs = greedy(model, test_sources, max_length)
    return sequence_error_rate(outputs, test_refs), tokens_seen / seconds


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--task", choices=sorted(TASKS), default="addition")
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--rnnkit", default=".build/release/rnnkit")
    ap.add_argument("--out", default="runs/seq2seq-compare")
    args = ap.parse_args()
    torch.set_num_threads(2)
    p = TASKS[args.task]
    pairs = addition_pairs() if args.task == "addition" else g2p_pairs()
    train, test = split(pairs, p["test"])
    os.makedirs(args.out, exist_ok=True)
    for name, part in (("train", train), ("test", test)):
        with open(os.path.join(args.out, name + ".tsv"), "w", encoding="utf-8") as f:
            f.writelines(f"{s}\t{t}\n" for s, t in part)
    # The vocabularies RNNKit builds: <pad> <s> </s>, then every token of the files sorted by code point.
    units = p["units"]
    vocab = [["<pad>", "<s>", "</s>"] + sorted({tok for pair in pairs for tok in tokens(pair[k], units[k])})
             for k in (0, 1)]
    index = [{t: i for i, t in enumerate(v)} for v in vocab]
    encode = lambda pair: ([index[0][t] for t in tokens(pair[0], units[0])], [index[1][t] for t in tokens(pair[1], units[1])])
    train_ids = [encode(pr) for pr in train]
    references = {}
    for s, t in (encode(pr) for pr in test):
        references.setdefault(tuple(s), []).append(t)
    test_sources, test_refs = [list(s) for s in references], list(references.values())
    max_length = 2 * max(len(t) for _, t in train_ids) + 10
    mean_tokens = sum(len(t) + 1 for _, t in train_ids) / len(train_ids)
    print(f"{args.task}: {len(train)} training pairs, {len(test_sources)} test sources; vocabularies {len(vocab[0]) - 3} → "
          f"{len(vocab[1]) - 3}; {args.steps} steps of batch {p['batch']}; CPU {cpu_name()}", flush=True)

    ours, theirs = [], []
    for seed in args.seeds:
        out = os.path.join(args.out, f"rnnkit-seed{seed}")
        subprocess.run(["rm", "-rf", out], check=True)
        cmd = [args.rnnkit, "train", "seq2seq", "--pairs", os.path.join(args.out, "train.tsv"), "--test", os.path.join(args.out, "test.tsv"),
               "--source-tokens", units[0], "--target-tokens", units[1], "--validation", "0", "--embedding", str(p["embedding"]),
               "--hidden", str(p["hidden"]), "--dropout", str(p["dropout"]), "--batch", str(p["batch"]), "--lr", str(p["lr"]),
               "--steps", str(args.steps), "--seed", str(seed), "--out", out, "--json"]
        r = json.loads(subprocess.run(cmd, check=True, capture_output=True, text=True).stdout.strip().splitlines()[-1])
        ours.append((r["test_sequence_error_rate"], r["train_samples_per_s"] * mean_tokens))
        theirs.append(pytorch_run(train_ids, test_sources, test_refs, (len(vocab[0]), len(vocab[1])), p, args.steps, seed, max_length))
        print(f"seed {seed}: test SER RNNKit {100 * ours[-1][0]:.2f}%, PyTorch {100 * theirs[-1][0]:.2f}%; "
              f"training tokens/s RNNKit {ours[-1][1]:.0f}, PyTorch {theirs[-1][1]:.0f} ({ours[-1][1] / theirs[-1][1]:.2f}×)", flush=True)
    mean = lambda rows, k: sum(r[k] for r in rows) / len(rows)
    gap = 100 * (mean(ours, 0) - mean(theirs, 0))
    speed = mean(ours, 1) / mean(theirs, 1)
    print(f"mean over seeds {args.seeds}: test SER RNNKit {100 * mean(ours, 0):.2f}%, PyTorch {100 * mean(theirs, 0):.2f}% "
          f"({gap:+.2f} points); tokens/s RNNKit {mean(ours, 1):.0f}, PyTorch {mean(theirs, 1):.0f} ({speed:.2f}×)")
    ok = gap <= 2 and speed >= 1.0
    print("RNNKit within 2 points at ≥ 1.0× PyTorch's speed" if ok else "NOT within 2 points at ≥ 1.0× speed")
    sys.exit(0 if ok else 1)


def cpu_name():
    for line in open("/proc/cpuinfo"):
        if line.startswith("model name"):
            flags = open("/proc/cpuinfo").read()
            return line.split(":", 1)[1].strip() + (" (AVX-512)" if "avx512f" in flags else " (AVX2, no AVX-512)")
    return "unknown"


if __name__ == "__main__":
    main()
