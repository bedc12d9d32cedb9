#!/usr/bin/env python3
"""Which register tile and blocks suit this CPU: builds of RNNKit's packed product (wide.h) that
differ only in TILE_ROWS × TILE_PANELS, the row and depth blocks and the rows from which A is
interleaved (INTERLEAVE_FROM; 0 always, 9999 never), timed on the step products of
every benchmarks/compare.py configuration. The tool for tuning wide_avx512.c and wide_avx2.c on a
new CPU; the tests never need it. Builds benchmarks/tiles.c and one file per variant into
.build/tiles/ with clang.

    python3 benchmarks/tiles.py [--isa avx512|avx2] [--threads 2] [--seconds 0.2] [--rounds 3]
                                [--tiles 12x2 10x2 ...] [--depth 128 256 ...] [--row-block 48 96 ...]
                                [--interleave-from 0 9999 ...] [--batch N] [--only lstm128 ...]

Without --tiles, --depth and --row-block it sweeps a grid around the shipped build: every tile of
the list below at every depth block with the shipped row block, then the shipped tile at other row
blocks. A tile of R rows × P panels keeps R·P accumulators of 16 floats: at most 28 for AVX-512's
32 zmm registers (2 of them for P = 2 panels, one broadcast), 6 for AVX2's 16 ymm, where each
16-float vector takes two registers. The shapes are one core's step product in the sample split:
M = the batch over the threads (over half of them for a bidirectional layer, whose directions
run side by side), N = g·H, K = F + H for the fused LSTM (H alone for the GRU, whose
input projection, (T·B/threads) × g·H × F, is timed too). GFLOP/s count every thread; the table
ends with each build's geometric mean over the shapes and marks the shipped build with *.
"""
import argparse, json, math, os, re, subprocess, sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CONFIGS, T, F, EMBED, CHAR_T, cpu_description  # noqa: E402
from products import GATES, avx512  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.join(HERE, "..")
KERNELS = os.path.join(ROOT, "Sources", "CKernels")
OUT = os.path.join(ROOT, ".build", "tiles")
TARGETS = {"avx512": "avx512f,avx512bw,avx512dq,avx512vl,fma", "avx2": "avx2,fma"}
TILES = {"avx512": ["8x2", "10x2", "12x2", "14x2", "14x1"], "avx2": ["4x1", "6x1", "3x2"]}
DEPTHS = [128, 256, 384, 512]
ROW_BLOCKS = [48, 96, 192]


def shipped(isa):
    """(rows, panels, row block, depth block, interleave from) of the build RNNKit ships for `isa`."""
    with open(os.path.join(KERNELS, f"wide_{isa}.c")) as f:
        text = f.read()
    with open(os.path.join(KERNELS, "wide.h")) as f:
        header = f.read()
    rows = int(re.search(r"#define TILE_ROWS (\d+)", text).group(1))
    panels = int(re.search(r"#define TILE_PANELS (\d+)", text).group(1))
    # The build's own settings where it has them (wide_avx512.c sets depth and interleaving), else
    # wide.h's defaults.
    own = lambda name: re.search(rf"#define {name} (\d+)", text)
    row_block = int((own("ROW_BLOCK") or re.search(r"#define ROW_BLOCK (\d+)", header)).group(1))
    depth = int(own("DEPTH_BLOCK").group(1)) if own("DEPTH_BLOCK") else \
        int(re.search(r"#define DEPTH_BLOCK \((\d+) / TILE_PANELS\)", header).group(1)) // panels
    interleave = int(own("INTERLEAVE_FROM").group(1)) if own("INTERLEAVE_FROM") else \
        int(re.search(r"#define INTERLEAVE_FROM \((\d+) \* TILE_ROWS\)", header).group(1)) * rows
    return rows, panels, row_block, depth, interleave


def shapes(name, threads):
    """(what, m, n, k) of one core's step products of configuration `name`."""
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    steps, features = (CHAR_T, EMBED) if charlm else (T, F)
    # The sample split gives each core batch / threads rows; two directions run side by side instead,
    # each with the whole batch on its share of the cores.
    share = max(1, threads // 2) if bi and threads >= 2 else threads
    m, gh = -(-batch // share), GATES[cell] * hidden
    found = []
    for layer in range(layers):
        width = features if layer == 0 else hidden * (2 if bi else 1)
        if cell == "gru":
            found += [(f"layer {layer + 1} step h·W_hhᵀ", m, gh, hidden),
                      (f"layer {layer + 1} projection X·W_ihᵀ", steps * batch // share, gh, width)]
        else:
            found.append((f"layer {layer + 1} step [x, h]·Wᵀ", m, gh, width + hidden))
    return found


def build(isa, variants):
    """Writes one source per variant and the list, builds the timing program; returns its path."""
    os.makedirs(OUT, exist_ok=True)
    sources, lines = [], []
    for rows, panels, row_block, depth, interleave in variants:
        suffix = f"t{rows}x{panels}_r{row_block}_d{depth}_i{interleave}"
        path = os.path.join(OUT, f"{suffix}.c")
        with open(path, "w") as f:
            f.write(f'#define SUFFIX {suffix}\n#define TARGET "{TARGETS[isa]}"\n#define TILE_ROWS {rows}\n'
                    f"#define TILE_PANELS {panels}\n#define ROW_BLOCK {row_block}\n#define DEPTH_BLOCK {depth}\n"
                    f"#define INTERLEAVE_FROM {interleave}\n"
                    f'#define PEAK_CHAINS 8\n#include "wide.h"\n')
        sources.append(path)
        lines.append(f"VARIANT({suffix}, {rows}, {panels}, {row_block}, {depth})")
    with open(os.path.join(OUT, "tiles_variants.h"), "w") as f:
        f.write("\n".join(lines) + "\n")
    binary = os.path.join(OUT, "tiles")
    command = ["clang", "-O3", "-I", os.path.join(KERNELS, "include"), "-I", KERNELS, "-I", OUT,
               os.path.join(HERE, "tiles.c"), os.path.join(KERNELS, "gemm.c"), os.path.join(KERNELS, "cpu.c"),
               os.path.join(KERNELS, "wide_avx2.c"), os.path.join(KERNELS, "wide_avx512.c"),
               os.path.join(KERNELS, "wide_avx512_logic.c")] + sources + ["-lpthread", "-lm", "-o", binary]
    r = subprocess.run(command, capture_output=True, text=True)
    if r.returncode != 0:
        sys.exit("building benchmarks/tiles.c failed (apt-get install clang):\n" + r.stderr[-3000:])
    return binary


def parse_tile(text):
    m = re.fullmatch(r"(\d+)x([12])", text)
    if not m:
        raise argparse.ArgumentTypeError(f"a tile is ROWSxPANELS with 1 or 2 panels, e.g. 12x2; got {text!r}")
    return int(m.group(1)), int(m.group(2))


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--isa", choices=list(TARGETS), default="avx512" if avx512() else "avx2")
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seconds", type=float, default=0.2, help="per build, shape and round")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--tiles", nargs="*", type=parse_tile)
    p.add_argument("--depth", nargs="*", type=int)
    p.add_argument("--row-block", nargs="*", type=int)
    p.add_argument("--interleave-from", nargs="*", type=int, help="rows of a block from which A is interleaved")
    p.add_argument("--batch", type=int, help="every configuration at this batch size")
    p.add_argument("--only", nargs="*", default=list(CONFIGS))
    a = p.parse_args()
    unknown = [n for n in a.only if n not in CONFIGS]
    if unknown:
        sys.exit(f"unknown configuration {', '.join(unknown)}; expected some of {', '.join(CONFIGS)}")
    if a.isa == "avx512" and not avx512():
        sys.exit("this CPU has no AVX-512 (F, BW, DQ, VL): run with --isa avx2")
    for tile in a.tiles or []:
        if not 1 <= tile[0] <= 14:
            sys.exit(f"tile rows must be 1 to 14 (wide.h's tileOfRows); got {tile[0]}")
    if a.batch:
        for name, config in CONFIGS.items():
            CONFIGS[name] = config[:4] + (a.batch,) + config[5:]

    home = shipped(a.isa)
    if a.tiles or a.depth or a.row_block or a.interleave_from:
        # A tile other than the shipped one interleaves from two of its tiles, as the shipped build does.
        variants = [(r, pn, rb, d, i) for r, pn in (a.tiles or [home[:2]]) for rb in (a.row_block or [home[2]])
                    for d in (a.depth or [home[3]]) for i in (a.interleave_from or [home[4] // home[0] * r])]
    else:
        variants = [(*parse_tile(t), home[2], d, home[4] // home[0] * parse_tile(t)[0]) for t in TILES[a.isa]
                    for d in DEPTHS]
        variants += [(*home[:2], rb, *home[3:]) for rb in ROW_BLOCKS]
    variants = list(dict.fromkeys(variants + [home]))  # the shipped build always, once
    binary = build(a.isa, variants)

    print(cpu_description())
    print(f"{a.isa} builds, {a.threads} threads, GFLOP/s (all threads), best of {a.rounds} rounds of "
          f"{a.seconds} s per build and shape; * the shipped build "
          f"({home[0]}x{home[1]}, row block {home[2]}, depth block {home[3]}, A interleaved from {home[4]} rows)")
    names = [f"{r}x{pn} r{rb} d{d} i{i}" + ("*" if (r, pn, rb, d, i) == home else "") for r, pn, rb, d, i in variants]
    rates = {v: [] for v in variants}
    found = list(dict.fromkeys((m, n, k, what, name) for name in a.only for what, m, n, k in shapes(name, a.threads)))
    seen = set()
    for m, n, k, what, name in found:
        if (m, n, k) in seen:
            continue
        seen.add((m, n, k))
        out = subprocess.run([binary, str(a.threads), str(a.seconds), str(a.rounds), str(m), str(n), str(k)],
                             capture_output=True, text=True, check=True).stdout
        r = list(json.loads(out).values())
        for v, x in zip(variants, r):
            rates[v].append(x)
        top = max(range(len(r)), key=r.__getitem__)
        print(f"{name:<12} {what:<26} {m}×{n}×{k:<6} best {names[top]:<24} {r[top]:7.1f}   shipped "
              f"{r[variants.index(home)]:7.1f}")
    print(f"\n{'build':<26} {'geomean':>8}")
    means = {v: math.exp(sum(math.log(x) for x in xs) / len(xs)) for v, xs in rates.items()}
    for v in sorted(variants, key=means.get, reverse=True):
        print(f"{names[variants.index(v)]:<26} {means[v]:8.1f}")


if __name__ == "__main__":
    main()
