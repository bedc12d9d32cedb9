#!/usr/bin/env python3
"""Data-parallel training on this machine, through the whole `rnnkit train` path: for each
configuration of benchmarks/compare.py, training samples/s of

  1 process × 2 threads        rnnkit train ...                       (RNNKIT_THREADS=2)
  2 ranks × 1 thread           mpirun -np 2 rnnkit train ... --distributed
  2 ranks over TCP             the same with --mca btl tcp,self (loopback TCP, no shared memory)

and a scaling model for k machines: the bytes each step allreduces (one fused Float buffer: the
gradients, a flag per tensor, 5 figures) against the step time measured alone.

    python3 benchmarks/distributed.py [--samples 6400] [--steps 12] [--rounds 1] [--only lstm128 ...]
        [--bandwidth-gbit 10 25] [--latency-us 30]

The MNIST-shaped configurations train on Fashion-MNIST (Debian dataset-fashion-mnist, which
`make demo` installs); the character model trains on Debian's license texts. Needs openmpi-bin and a
release build (`swift build -c release`). The tests never need any of this.
"""
import argparse, glob, json, os, platform, statistics, subprocess, sys, tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from compare import CONFIGS, EMBED, CHAR_T, RNNKIT  # one list of benchmark configurations

MPI_ENV = {"OMPI_ALLOW_RUN_AS_ROOT": "1", "OMPI_ALLOW_RUN_AS_ROOT_CONFIRM": "1",
           "OMPI_MCA_btl_vader_single_copy_mechanism": "none"}


def cpu():
    model = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), platform.machine())
    flags = set(next((l.split(":", 1)[1].split() for l in open("/proc/cpuinfo") if l.startswith("flags")), []))
    wide = sorted(f for f in flags if f.startswith("avx512"))
    return f"{model}, {os.cpu_count()} cores, " + ("AVX-512 (" + " ".join(wide) + ")" if wide else "AVX2, no AVX-512" if "avx2" in flags else "no AVX2")


def text_file(directory):
    path = os.path.join(directory, "text.txt")
    with open(path, "w") as out:
        for name in sorted(glob.glob("/usr/share/common-licenses/*")):
            if os.path.isfile(name):
                out.write(open(name, errors="replace").read())
    return path


def arguments(name, out, args, text):
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    common = ["--cell", cell, "--hidden", str(hidden), "--layers", str(layers), "--batch", str(batch), "--out", out, "--json"]
    if charlm:
        return ["train", "text", "--text", text, "--embedding", str(EMBED), "--seq-len", str(CHAR_T), "--steps", str(args.steps),
                "--validation", "0.01"] + common
    return ["train", "mnist", "--samples", str(args.samples), "--validation", "0"] + common + (["--bidirectional"] if bi else [])


def run(setup, name, args, directory, text):
    out = os.path.join(directory, f"{name}-{setup}")
    command = arguments(name, out, args, text)
    env = dict(os.environ, **MPI_ENV)
    if setup == "1x2":
        env["RNNKIT_THREADS"] = "2"
        launch = [RNNKIT]
    else:
        launch = ["mpirun", "-np", "2"] + (["--mca", "btl", "tcp,self"] if setup == "tcp" else []) + [RNNKIT]
        command.append("--distributed")
    done = subprocess.run(launch + command, capture_output=True, text=True, env=env)
    if done.returncode != 0:
        sys.exit(f"{' '.join(launch + command)} failed:\n{done.stdout}\n{done.stderr}")
    r = json.loads(done.stdout.strip().splitlines()[-1])
    unit = "train_characters_per_s" if "train_characters_per_s" in r else "train_samples_per_s"
    return r[unit], r["steps"], r["seconds"], out


def parameter_count(folder):
    raw = open(os.path.join(folder, "model.safetensors"), "rb").read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    shapes = [v["shape"] for k, v in header.items() if k != "__metadata__"]
    total = 0
    for shape in shapes:
        size = 1
        for d in shape:
            size *= d
        total += size
    return total, len(shapes)


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--samples", type=int, default=6400, help="training images per MNIST-shaped run")
    p.add_argument("--steps", type=int, default=12, help="steps of the character model")
    p.add_argument("--rounds", type=int, default=1, help="runs of each setup, in turn; the table shows medians")
    p.add_argument("--only", nargs="*", default=list(CONFIGS))
    p.add_argument("--bandwidth-gbit", type=float, nargs="*", default=[10, 25], help="network bandwidths of the scaling model")
    p.add_argument("--latency-us", type=float, default=30, help="per-message latency of the scaling model")
    args = p.parse_args()
    print(f"CPU: {cpu()}")
    with tempfile.TemporaryDirectory() as directory:
        text = text_file(directory)
        rows = []
        for name in args.only:
            runs = {"1x2": [], "2x1": [], "tcp": []}
            step_times = []
            for _ in range(args.rounds):
                for setup in runs:
                    speed, steps, seconds, folder = run(setup, name, args, directory, text)
                    runs[setup].append(speed)
                    if setup == "1x2":
                        step_times.append(seconds / steps)
            speeds = {k: statistics.median(v) for k, v in runs.items()}
            step_time = statistics.median(step_times)
            params, tensors = parameter_count(folder)
            rows.append((name, params, 4 * (params + tensors + 5), step_time, speeds))
            print(f"  {name}: " + ", ".join(f"{k} " + " ".join(f"{v:,.0f}" for v in vs) + "/s" for k, vs in runs.items()), file=sys.stderr)
    unit = lambda name: "chars/s" if CONFIGS[name][5] else "samples/s"
    print("\n| config | parameters | 1 process × 2 threads | 2 ranks × 1 thread | 2 ranks over TCP | 2×1 / 1×2 | TCP / 1×2 |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for name, params, _, _, s in rows:
        print(f"| {name} | {params:,} | {s['1x2']:,.0f} {unit(name)} | {s['2x1']:,.0f} | {s['tcp']:,.0f} | "
              f"{s['2x1'] / s['1x2']:.2f} | {s['tcp'] / s['1x2']:.2f} |")
    print("\nScaling model for k machines (2 cores each), ring allreduce: a step takes t/k + 2(k−1)/k · bytes/bandwidth "
          f"+ 2(k−1) · {args.latency_us:.0f} µs, where t is the step time of the global batch on one machine (1 × 2 threads above). "
          "Optimistic: a rank's share of the batch runs less efficiently as it shrinks.")
    ks = [2, 4, 8, 16]
    print("\n| config | allreduce bytes / step | step time, 1 machine | " + " | ".join(f"speed-up k={k} @ {b:g} Gb/s" for b in args.bandwidth_gbit for k in ks) + " |")
    print("| --- | --- | --- | " + " | ".join("---" for _ in args.bandwidth_gbit for _ in ks) + " |")
    for name, _, nbytes, t, _ in rows:
        cells = []
        for b in args.bandwidth_gbit:
            for k in ks:
                comm = 2 * (k - 1) / k * nbytes / (b * 1e9 / 8) + 2 * (k - 1) * args.latency_us * 1e-6
                cells.append(f"{t / (t / k + comm):.1f}×")
        print(f"| {name} | {nbytes / 1e6:.2f} MB | {t * 1e3:.1f} ms | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
