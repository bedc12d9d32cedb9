#!/usr/bin/env python3
"""Checks `rnnkit export onnx` with the real runtime: ONNX Runtime runs each exported model and its
outputs are compared with RNNKit's own on the same inputs.

Models are trained here for a few epochs with the rnnkit binary (weights away from their
initialisation): sequence classifiers, a regressor and a tagger over every cell, 1–2 layers, one or
two directions, with and without a projection, on random sequences of random lengths (the
`lengths` input); an image-row classifier on Fashion-MNIST's real test images when Debian's
dataset-fashion-mnist is installed; a forecaster on the seattle-weather preset's real series when
python3-vega-datasets is. Prints one table row per model and exits 1 if any differs by more than 1e-5
(relative to the output's scale for numbers in the targets' units).

Run:  scripts/onnx-check.sh        (makes .venv-onnx with onnxruntime and onnx on first use)
The test suite never needs this script or onnxruntime.
"""
import csv
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import onnx
import onnxruntime as ort

RNNKIT = os.environ.get("RNNKIT", ".build/release/rnnkit")
rows = []


def run(*args):
    return subprocess.run([RNNKIT, *args], check=True, capture_output=True, text=True).stdout


def session(model_dir):
    path = os.path.join(model_dir, "model.onnx")
    run("export", "onnx", "--model", model_dir, "--out", path)
    onnx.checker.check_model(onnx.load(path), full_check=True)
    options = ort.SessionOptions()
    options.intra_op_num_threads = 2
    return ort.InferenceSession(path, options, providers=["CPUExecutionProvider"])


def report(kind, cfg, lengths, difference):
    r = cfg["model"]["recurrent"]
    rows.append((kind, r["cell"], r["numLayers"], 2 if r["isBidirectional"] else 1, "yes" if lengths else "no",
                 cfg["model"].get("readout", "steps"), difference))


def check_sequences(work, name, flags, kind, per_step=False, regression=False, n=200, steps=12, features=3):
    rng = np.random.default_rng(len(rows))
    lengths = rng.integers(1, steps + 1, size=n)
    x = rng.normal(size=(n, steps, features)).astype(np.float32)
    if per_step:
        y = (x[:, :, 0] > 0).astype(np.int64)
    elif regression:
        y = np.array([x[i, :lengths[i], 0].mean() for i in range(n)], dtype=np.float64)
    else:
        y = np.array([int(x[i, :lengths[i], 0].sum() > 0) for i in range(n)], dtype=np.int64)
    data = os.path.join(work, name + ".npz")
    np.savez(data, x=x, y=y, lengths=lengths)
    folder = os.path.join(work, name)
    run("train", "sequences", "--data", data, "--epochs", "3", "--out", folder, *flags)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    s = cfg["data"]["featureScaling"]
    scaled = ((x - np.array(s["mean"])) / np.array(s["standardDeviation"])).astype(np.float32)
    theirs = session(folder).run(None, {"input": scaled, "lengths": lengths.astype(np.int32)})[0]
    if regression:
        t = cfg["data"]["targetScaling"]
        theirs = theirs * np.array(t["standardDeviation"]) + np.array(t["mean"])
    text = run("predict", "sequences", "--model", folder, "--data", data, "--logits").splitlines()
    header = text[0].split(",")
    first = header.index("step") + 1 if "step" in header else 1
    if "predicted" in header:
        first += 1
    ours = np.array([[float(v) for v in line.split(",")[first:]] for line in text[1:]])
    if per_step:
        theirs = np.concatenate([theirs[b, :lengths[b]] for b in range(n)])
    scale = max(1.0, np.abs(ours).max()) if regression else 1.0
    report(kind, cfg, True, np.abs(theirs - ours).max() / scale)


def check_mnist(work):
    data = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        print("(no image-row check: Debian's dataset-fashion-mnist is not installed)")
        return
    folder = os.path.join(work, "mnist")
    run("train", "mnist", "--samples", "4096", "--hidden", "32", "--out", folder)
    logits = os.path.join(work, "logits.safetensors")
    run("eval", "mnist", "--model", folder, "--save-logits", logits, "--logits-count", "1000")
    header = open(logits, "rb").read(8)
    size = int.from_bytes(header, "little")
    meta = json.loads(open(logits, "rb").read(8 + size)[8:])
    start, end = meta["logits"]["data_offsets"]
    ours = np.frombuffer(open(logits, "rb").read()[8 + size + start:8 + size + end], dtype=np.float32).reshape(meta["logits"]["shape"])
    images = open(os.path.join(data, "t10k-images-idx3-ubyte.gz"), "rb").read() if os.path.exists(
        os.path.join(data, "t10k-images-idx3-ubyte.gz")) else None
    import gzip
    raw = gzip.decompress(images) if images else open(os.path.join(data, "t10k-images-idx3-ubyte"), "rb").read()
    x = np.frombuffer(raw[16:16 + 1000 * 784], dtype=np.uint8).reshape(1000, 28, 28).astype(np.float32) / 255
    theirs = session(folder).run(None, {"input": x})[0]
    report("image rows (1000 Fashion-MNIST test images)", json.load(open(os.path.join(folder, "config.json"))), False,
           np.abs(theirs - ours).max())


def check_forecast(work):
    path = "/usr/lib/python3/dist-packages/vega_datasets/_data/seattle-weather.csv"
    if not os.path.exists(path):
        print("(no forecaster check: Debian's python3-vega-datasets is not installed; `make forecast-presets`)")
        return
    folder = os.path.join(work, "forecast")
    run("train", "forecast", "--preset", "seattle-weather", "--epochs", "3", "--out", folder)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    setup, d = cfg["data"]["forecast"], cfg["data"]
    out = os.path.join(work, "forecast-eval")
    run("eval", "forecast", "--model", folder, "--out", out)
    forecasts = list(csv.DictReader(open(os.path.join(out, "forecast.csv"))))
    table = list(csv.DictReader(open(path)))
    columns = setup["targets"] + [f for f in setup["features"] if f not in setup["targets"]]
    values = np.array([[float(r[c]) for c in columns] for r in table], dtype=np.float32)
    index = {r[setup["time"]]: i for i, r in enumerate(table)}
    W, H = setup["window"], setup["horizon"]
    origins = sorted({index[r["origin_time"]] + 1 for r in forecasts})
    mean, std = np.array(d["featureScaling"]["mean"]), np.array(d["featureScaling"]["standardDeviation"])
    windows = []
    for s in origins:
        w = values[s - W - 1:s]
        w = w[1:] - w[:-1] if setup["mode"] == "difference" else values[s - W:s]
        windows.append(((w.astype(np.float64) - mean) / std).astype(np.float32))
    theirs = session(folder).run(None, {"input": np.stack(windows)})[0]
    t = d["targetScaling"]
    theirs = (theirs * np.array(t["standardDeviation"]) + np.array(t["mean"])).astype(np.float32)
    if setup["mode"] != "absolute":
        theirs = theirs + values[[s - 1 for s in origins], 0][:, None]
    ours = np.zeros_like(theirs)
    for r in forecasts:
        ours[origins.index(index[r["origin_time"]] + 1), int(r["step"]) - 1] = float(r["forecast"])
    report(f"forecaster (seattle-weather, {len(origins)} test windows; / target std)", cfg, False,
           np.abs(theirs - ours).max() / d["targetScaling"]["standardDeviation"][0])


def check_charlm(work, name, flags):
    """A character model on this repository's README: the sequence graph's next-character
    probabilities against `rnnkit predict text`; the one-step graph, fed one character at a time
    with its states carried, against the sequence graph's logits and final states."""
    text = os.path.join(work, "text.txt")
    open(text, "w").write(open("README.md", encoding="utf-8").read()[:20000])
    folder = os.path.join(work, name)
    run("train", "text", "--text", text, "--steps", "40", "--seq-len", "32", "--batch", "8", "--out", folder, *flags)
    cfg = json.load(open(os.path.join(folder, "config.json")))
    chars = cfg["model"]["vocabulary"]
    full, step = session(folder), ort.InferenceSession(os.path.join(folder, "model-step.onnx"), providers=["CPUExecutionProvider"])
    onnx.checker.check_model(onnx.load(os.path.join(folder, "model-step.onnx")), full_check=True)
    prefix = "RNNKit is a Swift package for recurrent neural networks"
    ids = np.array([[chars.index(c) for c in prefix]], dtype=np.int64)
    outputs = full.run(None, {"ids": ids})
    logits, states = outputs[0], outputs[1:]
    p = np.exp(logits[0, -1] - logits[0, -1].max())
    p /= p.sum()
    import io
    listed = list(csv.reader(io.StringIO(run("predict", "text", "--model", folder, "--top", str(len(chars)), prefix))))[1:]
    ours = np.zeros(len(chars))
    for _, _, character, probability in listed:
        ours[chars.index(character)] = float(probability)
    report(f"character model: next-character probabilities vs predict text (6 decimals)", cfg, False, np.abs(p - ours).max())
    r = cfg["model"]["recurrent"]
    h = np.zeros((r["numLayers"], 1, r["hiddenSize"]), dtype=np.float32)
    carried = {"h": h, "c": h.copy()} if r["cell"] == "lstm" else {"h": h}
    for t in range(ids.shape[1]):
        out = step.run(None, {"ids": ids[:, t], **carried})
        last, carried = out[0], dict(zip(carried.keys(), out[1:]))
    difference = max(np.abs(last - logits[:, -1]).max(), *[np.abs(a - b).max() for a, b in zip(carried.values(), states)])
    report("character model: one-step graph vs sequence graph (logits, final states)", cfg, False, difference)


def speed(work, seconds=5.0):
    """Inference samples/s of the default classifier (LSTM 128, 28 steps of 28, batch 128, 2 threads):
    ONNX Runtime on the exported file beside `rnnkit bench --only inference` in the same run."""
    import time
    folder = os.path.join(work, "speed")
    data = "/usr/share/datasets/fashion-mnist"
    if not os.path.isdir(data):
        return None
    run("train", "mnist", "--samples", "128", "--out", folder)
    s = session(folder)
    x = np.random.default_rng(0).random((128, 28, 28), dtype=np.float32)
    for _ in range(5):
        s.run(None, {"input": x})
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        s.run(None, {"input": x})
        n += 1
    theirs = n * 128 / (time.perf_counter() - start)
    bench = json.loads(subprocess.run([RNNKIT, "bench", "--only", "inference", "--seconds", str(int(seconds)), "--json"],
                                      check=True, capture_output=True, text=True, env=dict(os.environ, RNNKIT_THREADS="2")).stdout.splitlines()[-1])
    ours = bench.get("inference_samples_per_s") or bench.get("infer_samples_per_s")
    return theirs, ours


def main():
    only = sys.argv[1] if len(sys.argv) > 1 else None   # e.g. `charlm`: that check alone
    with tempfile.TemporaryDirectory() as work:
        if only == "charlm":
            check_charlm(work, "charlm", ["--hidden", "32", "--embedding", "16", "--layers", "2"])
            check_charlm(work, "charlm-gru", ["--hidden", "24", "--cell", "gru", "--one-hot"])
            for row in rows:
                print(row)
            sys.exit(0 if max(r[-1] for r in rows) <= 1e-5 else 1)
        small = ["--hidden", "8", "--batch", "32"]
        check_sequences(work, "lstm", small + ["--readout", "final"], "classifier")
        check_sequences(work, "lstm2bi", small + ["--layers", "2", "--bidirectional", "--readout", "last"], "classifier")
        check_sequences(work, "grubi", small + ["--cell", "gru", "--bidirectional", "--readout", "final"], "classifier")
        check_sequences(work, "rnn2", small + ["--cell", "rnn", "--layers", "2", "--readout", "last"], "classifier")
        check_sequences(work, "relu", small + ["--cell", "rnn-relu", "--projection", "4", "--bidirectional"], "classifier, projection 4")
        check_sequences(work, "tagger", small + ["--cell", "gru", "--layers", "2"], "tagger", per_step=True)
        check_sequences(work, "regressor", small + ["--bidirectional"], "regressor (/ output scale)", regression=True)
        check_mnist(work)
        check_forecast(work)
        check_charlm(work, "charlm", ["--hidden", "32", "--embedding", "16", "--layers", "2"])
        check_charlm(work, "charlm-gru", ["--hidden", "24", "--cell", "gru", "--one-hot"])
        measured = speed(work)
    print("| model | cell | layers | directions | lengths | readout | max difference |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for kind, cell, layers, directions, lengths, readout, difference in rows:
        print(f"| {kind} | {cell} | {layers} | {directions} | {lengths} | {readout} | {difference:.2e} |")
    if measured:
        theirs, ours = measured
        print(f"inference, LSTM 128 classifier, 28×28, batch 128, 2 threads: ONNX Runtime {theirs:,.0f} samples/s, "
              f"rnnkit bench {ours:,.0f} samples/s (RNNKit / ONNX Runtime = {ours / theirs:.2f})")
    worst = max(r[-1] for r in rows)
    print(f"onnxruntime {ort.__version__}, onnx {onnx.__version__}: worst {worst:.2e} " + ("≤ 1e-5" if worst <= 1e-5 else "> 1e-5: DISAGREE"))
    sys.exit(0 if worst <= 1e-5 else 1)


if __name__ == "__main__":
    main()
