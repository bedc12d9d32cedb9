#!/usr/bin/env python3
"""RNNKit against PyTorch on the same machine, in the same run: training (forward, backward, Adam
step) and inference samples/s for the configurations of shared design §6 (T=28, F=28, 10 classes)
and a character model (embedding 64, LSTM 512 × 2, vocabulary 100, batch 64, 100 steps).

A third column anchors both: oneDNN's LSTM/GRU primitive driven directly (benchmarks/onednn_rnn.cpp,
built here against Debian's libdnnl-dev when it is installed: apt-get install libdnnl-dev), the
engine PyTorch's CPU RNNs sit on, for the recurrent layers alone (no output layer, loss or
optimizer step). The header names the CPU and its vector extensions.

Each configuration runs --rounds rounds of RNNKit and PyTorch (A B, then B A, and so on, so that a
drift in the machine's speed favours neither side), every run in a fresh process with the same
thread count. The table shows the median of each side, and as the ratio the median of each round's
RNNKit / PyTorch (and RNNKit / oneDNN, the raw run following the round's RNNKit run), with the range
of those ratios beneath it: on a shared machine the speed of both
sides moves by tens of percent over tens of seconds, and a round's two runs share its conditions
more than the medians do. Plus each process's peak resident memory. Run through benchmarks/compare.sh,
which makes the virtual environment with torch on first use. The tests never need any of this.

    python3 benchmarks/compare.py [--seconds 3] [--rounds 2] [--threads 2] [--batch N] [--isa avx2] [--only lstm128 ...]
"""
import argparse, json, os, resource, statistics, subprocess, sys, time

CONFIGS = {
    # name: (cell, hidden, layers, bidirectional, batch, charlm)
    "lstm128": ("lstm", 128, 1, False, 128, False),
    "lstm100-b50": ("lstm", 100, 1, False, 50, False),
    "bilstm256": ("lstm", 256, 1, True, 128, False),
    "gru128": ("gru", 128, 1, False, 128, False),
    "lstm256x2": ("lstm", 256, 2, False, 128, False),
    "charlm": ("lstm", 512, 2, False, 64, True),
}
T, F, CLASSES, VOCAB, EMBED, CHAR_T = 28, 28, 10, 100, 64, 100
HERE = os.path.dirname(os.path.abspath(__file__))
RNNKIT = os.path.join(HERE, "..", ".build", "release", "rnnkit")


def rnnkit(name, seconds, threads):
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    args = [RNNKIT, "bench", "--cell", cell, "--hidden", str(hidden), "--layers", str(layers), "--batch", str(batch),
            "--seconds", str(seconds), "--warmup", "1", "--json"]
    args += ["--charlm", "--vocabulary", str(VOCAB), "--embedding", str(EMBED), "--seq-len", str(CHAR_T)] if charlm \
        else ["--seq-len", str(T), "--features", str(F)]
    if bi:
        args.append("--bidirectional")
    env = dict(os.environ, RNNKIT_THREADS=str(threads))
    out = subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return (r["train_samples_per_s"], r["infer_samples_per_s"], r["peak_memory_mb"], r.get("train_efficiency"),
            r.get("infer_efficiency"), r.get("kernels"))


ONEDNN_SOURCE = os.path.join(HERE, "onednn_rnn.cpp")
ONEDNN = os.path.join(HERE, "..", ".build", "onednn_rnn")


def cpu_description():
    """The CPU's model name and vector extensions, from /proc/cpuinfo (Linux)."""
    model, flags = "unknown CPU", []
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                key, _, value = line.partition(":")
                if key.strip() == "model name" and model == "unknown CPU":
                    model = value.strip()
                elif key.strip() == "flags" and not flags:
                    flags = [x for x in value.split() if x in ("avx", "avx2", "fma") or x.startswith("avx512")]
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores; vector extensions: {' '.join(flags) or 'none of AVX'}"


def build_onednn():
    """Builds benchmarks/onednn_rnn.cpp when oneDNN's headers are here; returns why not, or None."""
    if not os.path.exists("/usr/include/oneapi/dnnl/dnnl.hpp"):
        return "oneDNN column skipped: apt-get install libdnnl-dev"
    if not os.path.exists(ONEDNN) or os.path.getmtime(ONEDNN) < os.path.getmtime(ONEDNN_SOURCE):
        os.makedirs(os.path.dirname(ONEDNN), exist_ok=True)
        r = subprocess.run(["g++", "-O2", "-std=c++17", ONEDNN_SOURCE, "-ldnnl", "-o", ONEDNN], capture_output=True, text=True)
        if r.returncode != 0:
            return "oneDNN column skipped: building benchmarks/onednn_rnn.cpp failed:\n" + r.stderr[-2000:]
    return None


def onednn(name, seconds, threads):
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    steps, features = (CHAR_T, EMBED) if charlm else (T, F)
    args = [ONEDNN, cell, str(hidden), str(layers), "1" if bi else "0", str(batch), str(steps), str(features), str(seconds)]
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    r = json.loads(subprocess.run(args, capture_output=True, text=True, env=env, check=True).stdout.strip().splitlines()[-1])
    return r["train_samples_per_s"], r["infer_samples_per_s"]


def pytorch_worker(name, seconds, threads):
    """Runs in a child process: prints one JSON line."""
    import torch
    torch.set_num_threads(threads)
    torch.manual_seed(0)
    cell, hidden, layers, bi, batch, charlm = CONFIGS[name]
    rnn_type = {"lstm": torch.nn.LSTM, "gru": torch.nn.GRU}[cell]

    class Model(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = torch.nn.Embedding(VOCAB, EMBED) if charlm else None
            self.rnn = rnn_type(EMBED if charlm else F, hidden, num_layers=layers, bidirectional=bi, batch_first=True)
            self.fc = torch.nn.Linear(hidden * (2 if bi else 1), VOCAB if charlm else CLASSES)

        def forward(self, x):
            y, _ = self.rnn(self.embed(x) if charlm else x)
            return self.fc(y) if charlm else self.fc(y[:, -1])

    model = Model()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    loss_fn = torch.nn.CrossEntropyLoss()
    if charlm:
        x = torch.randint(0, VOCAB, (batch, CHAR_T))
        y = torch.randint(0, VOCAB, (batch, CHAR_T))
    else:
        x = torch.rand(batch, T, F)
        y = torch.randint(0, CLASSES, (batch,))

    def train_step():
        optimizer.zero_grad()
        logits = model(x)
        loss = loss_fn(logits.reshape(-1, logits.shape[-1]), y.reshape(-1))
        loss.backward()
        optimizer.step()

    def infer_step():
        with torch.no_grad():
            model(x)

    def rate(step):
        end = time.perf_counter() + 1.0
        while time.perf_counter() < end:
            step()
        n, start = 0, time.perf_counter()
        while time.perf_counter() - start < seconds:
            step()
            n += 1
        return n * batch / (time.perf_counter() - start)

    train = rate(train_step)
    infer = rate(infer_step)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"train": train, "infer": infer, "peak_mb": peak}))


def pytorch(name, seconds, threads):
    out = subprocess.run([sys.executable, __file__, "--worker", name, "--seconds", str(seconds), "--threads", str(threads),
                          "--batch", str(CONFIGS[name][4])],
                         capture_output=True, text=True, check=True).stdout
    r = json.loads(out.strip().splitlines()[-1])
    return r["train"], r["infer"], r["peak_mb"]


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--seconds", type=float, default=3)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--only", nargs="*", default=list(CONFIGS))
    p.add_argument("--batch", type=int, help="every configuration at this batch size instead of its own "
                   "(small batches: inference then splits each step's units across the cores)")
    p.add_argument("--isa", choices=["avx2"], help="limit every side to these vector instructions on a CPU that "
                   "has wider ones (an AVX2 machine's table on an AVX-512 one): RNNKit through RNNKIT_ISA, PyTorch "
                   "through ATEN_CPU_CAPABILITY, oneDNN (PyTorch's and the raw column) through ONEDNN_MAX_CPU_ISA, "
                   "MKL through MKL_ENABLE_INSTRUCTIONS")
    p.add_argument("--worker")
    a = p.parse_args()
    if a.isa:
        # Set here, so that every process started below (RNNKit, the PyTorch workers, the raw oneDNN
        # program) inherits them. oneDNN 2.x reads DNNL_MAX_CPU_ISA, 3.x ONEDNN_MAX_CPU_ISA.
        os.environ.update(RNNKIT_ISA=a.isa, ATEN_CPU_CAPABILITY=a.isa, ONEDNN_MAX_CPU_ISA=a.isa.upper(),
                          DNNL_MAX_CPU_ISA=a.isa.upper(), MKL_ENABLE_INSTRUCTIONS=a.isa.upper())
    if a.batch is not None:
        if a.batch < 1:
            sys.exit(f"--batch: expected a positive number of samples, found {a.batch}")
        for name, config in CONFIGS.items():
            CONFIGS[name] = config[:4] + (a.batch,) + config[5:]
    if a.worker:
        return pytorch_worker(a.worker, a.seconds, a.threads)
    # torch is imported by the workers only: Linux carries a parent's peak memory into the children it
    # starts, so a parent holding torch would inflate RNNKit's figure.
    version = subprocess.run([sys.executable, "-c", "import torch; print(torch.__version__, "
                              "torch.backends.mkldnn.is_available(), torch.backends.cpu.get_cpu_capability())"],
                             capture_output=True, text=True, check=True).stdout.split()
    print(cpu_description())
    if a.isa:
        print(f"every side limited to {a.isa.upper()} (--isa); eff is still against the CPU's widest peak")
    print(f"PyTorch {version[0]} (oneDNN {version[1]}, kernels {version[2]}), {a.threads} threads, "
          f"{a.seconds:g} s per measurement, {a.rounds} rounds A B B A ..., medians; ratio: median of the rounds' ratios")
    skipped = build_onednn()
    if skipped:
        print(skipped)
    header = f"{'config':<12} {'RNNKit train':>12} {'PyTorch train':>13} {'ratio':>6} {'oneDNN':>8} {'ratio':>6}" \
             f" {'RNNKit infer':>12} {'PyTorch infer':>13} {'ratio':>6} {'oneDNN':>8} {'ratio':>6}" \
             f" {'eff train/infer':>15} {'peak MB R/P':>12}"
    print(header)
    print("(oneDNN: its RNN primitive alone, recurrent layers only; ratio: RNNKit / oneDNN. "
          "eff: RNNKit's GFLOP/s as a share of the machine's peak, from rnnkit bench)")
    ratios, kernels = [], set()
    for name in a.only:
        ours, theirs, raw = [], [], []
        for k in range(a.rounds):
            for side in (("R", "P") if k % 2 == 0 else ("P", "R")):
                if side == "R":
                    ours.append(rnnkit(name, a.seconds, a.threads))
                else:
                    theirs.append(pytorch(name, a.seconds, a.threads))
            if not skipped:
                raw.append(onednn(name, a.seconds, a.threads))
        rt, ri = statistics.median(o[0] for o in ours), statistics.median(o[1] for o in ours)
        pt, pi = statistics.median(t[0] for t in theirs), statistics.median(t[1] for t in theirs)
        et, ei = statistics.median(o[3] for o in ours), statistics.median(o[4] for o in ours)
        rm, pm = max(o[2] for o in ours), max(t[2] for t in theirs)
        kernels.update(o[5] for o in ours)
        # Each round's ratio, its two runs side by side.
        paired = [[o[k] / t[k] for o, t in zip(ours, theirs)] for k in (0, 1)]
        qt, qi = statistics.median(paired[0]), statistics.median(paired[1])
        ratios += [qt, qi]
        # Each round's RNNKit / oneDNN: the oneDNN run follows its round's RNNKit run.
        anchored = [[o[k] / r[k] for o, r in zip(ours, raw)] for k in (0, 1)] if raw else None
        if raw:
            ot, oi = statistics.median(r[0] for r in raw), statistics.median(r[1] for r in raw)
            dt, di = (statistics.median(q) for q in anchored)
            dnn_t, dnn_i = f"{ot:>8,.0f} {dt:>6.2f}", f"{oi:>8,.0f} {di:>6.2f}"
        else:
            dnn_t = dnn_i = f"{'-':>8} {'-':>6}"
        print(f"{name:<12} {rt:>12,.0f} {pt:>13,.0f} {qt:>6.2f} {dnn_t} {ri:>12,.0f} {pi:>13,.0f} {qi:>6.2f} {dnn_i}"
              f" {100 * et:>7.0f}%/{100 * ei:.0f}% {rm:>6.0f}/{pm:.0f}", flush=True)
        if a.rounds > 1:
            # The range of the rounds' ratios, right-aligned under each ratio column (ending at 46, 62,
            # 96 and 112).
            train, infer = (f"{min(r):.2f}–{max(r):.2f}" for r in paired)
            dnn_t, dnn_i = (f"{min(r):.2f}–{max(r):.2f}" for r in anchored) if anchored else ("", "")
            print(f"{'  rounds':<12}{train:>34}{dnn_t:>16}{infer:>34}{dnn_i:>16}", flush=True)
    geo = 1.0
    for r in ratios:
        geo *= r
    print(f"geometric mean of the ratios: {geo ** (1 / len(ratios)):.2f}")
    # Which of its paths RNNKit ran (the widest the CPU has, or RNNKIT_ISA's: `--isa avx2` on an AVX-512
    # CPU gives every side's AVX2 table beside the default one).
    print(f"RNNKit kernels: {', '.join(sorted(k or '?' for k in kernels))}")


if __name__ == "__main__":
    main()
