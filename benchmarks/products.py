#!/usr/bin/env python3
"""The large products of a training step of each benchmarks/compare.py configuration, timed three
ways on this machine: OpenBLAS (the core it chose, or OPENBLAS_CORETYPE), RNNKit's own packed kernel
(the widest build this CPU runs) and oneDNN's sgemm (when Debian's libdnnl-dev is installed). RNNKit
sends these products to BLAS; this is the measurement that decides whether it should keep doing so
on a given CPU. On an AVX-512 CPU, OpenBLAS is told OPENBLAS_CORETYPE=SkylakeX unless the variable
is set, as rnnkit does. Builds benchmarks/products.c (C, against libopenblas-dev) into .build/; the tests
never need it.

    python3 benchmarks/products.py [--threads 2] [--seconds 1] [--only lstm128 ...]

Per recurrent layer (and direction, which share shapes): the weight gradient dGᵀ · [X, H, 1] (LSTM,
simple RNN; also the other way round, [X, H, 1]ᵀ · dG) or dGᵀ · X and dGᵀ · H (GRU), A transposed;
the input gradient dG · W_ih of layers whose input needs one; and the GRU's input projection
X · W_ihᵀ. For the own kernel, packing B and
transposing A are inside the timing, as they would be in a training step.
"""
import argparse, json, os, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CONFIGS, T, F, EMBED, CHAR_T, cpu_description  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
BINARY = os.path.join(ROOT, ".build", "products")
KERNELS = os.path.join(ROOT, "Sources", "CKernels")
SOURCES = [os.path.join(HERE, "products.c")] + [os.path.join(KERNELS, f) for f in
                                                 ("cpu.c", "gemm.c", "wide_avx2.c", "wide_avx512.c", "wide_avx512_logic.c")]
GATES = {"lstm": 4, "gru": 3, "rnn": 1}


def build():
    """Builds the timing program, with oneDNN when its headers are here; returns whether it has oneDNN."""
    dnnl = os.path.exists("/usr/include/oneapi/dnnl/dnnl.h")
    newest = max(os.path.getmtime(s) for s in SOURCES)
    stamp = BINARY + (".dnnl" if dnnl else ".plain")
    if not os.path.exists(stamp) or os.path.getmtime(stamp) < newest:
        os.makedirs(os.path.dirname(BINARY), exist_ok=True)
        command = ["clang", "-O3", "-I", os.path.join(KERNELS, "include")] + SOURCES + \
            (["-DWITH_DNNL", "-ldnnl"] if dnnl else []) + ["-lopenblas", "-lpthread", "-lm", "-o", BINARY]
        r = subprocess.run(command, capture_output=True, text=True)
        if r.returncode != 0:
            sys.exit("building benchmarks/products.c failed (apt-get install libopenblas-dev clang):\n" + r.stderr[-2000:])
        for old in (BINARY + ".dnnl", BINARY + ".plain"):
            if os.path.exists(old):
                os.remove(old)
        open(stamp, "w").close()
    return dnnl


def avx512():
    """Whether this CPU reports AVX-512 F, BW, DQ and VL, the set RNNKit's AVX-512 kernels need."""
    try:
        with open("/proc/cpuinfo") as f:
            flags = next((line.split(":", 1)[1].split() for line in f if line.startswith("flags")), [])
    except OSError:
        return False
    return all(x in flags for x in ("avx512f", "avx512bw", "avx512dq", "avx512vl"))


def products(name):
    """(what, m, n, k, transA) for each distinct large product of one training step of `name`."""
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    steps, features = (CHAR_T, EMBED) if charlm else (T, F)
    rows, gh, directions = steps * batch, GATES[cell] * hidden, 2 if bi else 1
    found = []
    for layer in range(layers):
        width = features if layer == 0 else hidden * directions
        where = f"layer {layer + 1}"
        if cell == "gru":
            found += [(f"{where} dW_ih = dGᵀ·X", gh, width, rows, 1), (f"{where} dW_hh = dGᵀ·H", gh, hidden, rows, 1),
                      (f"{where} input projection X·W_ihᵀ", rows, gh, width, 0)]
        else:
            found.append((f"{where} dW = dGᵀ·[X, H, 1]", gh, width + hidden + 1, rows, 1))
            # The other orientation, which RNNKit runs on oneDNN from 1024 gate rows (then transposed).
            found.append((f"{where} dWᵀ = [X, H, 1]ᵀ·dG", width + hidden + 1, gh, rows, 1))
        if layer > 0 or charlm:  # the first layer's input is data, except the char model's embedding
            found.append((f"{where} dX = dG·W_ih", rows, width, gh, 0))
    unique, seen = [], set()
    for p in found:
        if p[1:] not in seen:
            seen.add(p[1:])
            unique.append(p)
    return unique


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=1.0)
    p.add_argument("--only", nargs="*", default=list(CONFIGS))
    args = p.parse_args()
    unknown = [n for n in args.only if n not in CONFIGS]
    if unknown:
        sys.exit(f"unknown configuration {', '.join(unknown)}; expected some of {', '.join(CONFIGS)}")
    dnnl = build()
    print(cpu_description())
    print(f"{args.threads} threads each; GFLOP/s, best of 3 rounds of {args.seconds / 3:.2f} s"
          + ("" if dnnl else "; oneDNN column skipped: apt-get install libdnnl-dev"))
    print(f"{'config':<12} {'product':<34} {'M×N×K':>16} {'BLAS':>7} {'own':>7} {'oneDNN':>7}  best")
    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    # As rnnkit does: OpenBLAS at its AVX-512 kernels on an AVX-512 CPU (Debian's 0.3.21 picks its
    # AVX2 ones on AMD Zen 4 and 5), unless the caller chose a core.
    if "OPENBLAS_CORETYPE" not in env and avx512():
        env["OPENBLAS_CORETYPE"] = "SkylakeX"
    wins = {}
    for name in args.only:
        shapes = products(name)
        command = [BINARY, str(args.threads), str(args.seconds)] + [str(v) for s in shapes for v in s[1:]]
        out = subprocess.run(command, capture_output=True, text=True, env=env, check=True).stdout.splitlines()
        for (what, m, n, k, ta), line in zip(shapes, out):
            r = json.loads(line)
            rates = {"BLAS": r["blas"], "own": r["own"], "oneDNN": r["onednn"]}
            best = max((v, k2) for k2, v in rates.items() if v is not None)[1]
            wins[best] = wins.get(best, 0) + 1
            cells = "".join(f" {v:>7.1f}" if v is not None else f" {'-':>7}" for v in rates.values())
            shape = f"{m}×{n}×{k}" + ("ᵀ" if ta else "")
            print(f"{name:<12} {what:<34} {shape:>16}{cells}  {best}")
    print(f"OpenBLAS core: {r['blas_core']}; fastest: " + ", ".join(f"{k} {v}" for k, v in sorted(wins.items())))


if __name__ == "__main__":
    main()
