#!/usr/bin/env python3
"""Float64 reference for RNNKit's recurrent layers; writes recurrent_fixtures.json beside itself.

Rerun from the repository root with:  python3 Tests/RNNKitTests/Fixtures/make_recurrent_fixtures.py
Needs only numpy. The math follows PyTorch's nn.RNN / nn.LSTM / nn.GRU (gate order i,f,g,o and r,z,n,
batch_first=True, state layout (L*D, B, H)), TF1's forget_bias, and TF dynamic_rnn's sequence_length:
sample b is active at step t iff t < length[b] in both directions; inactive steps output 0 and keep
the state. It is written as a plain per-step loop, independently of the Swift engine.
"""
import json
import os

import numpy as np

GATES = {"rnn_tanh": 1, "rnn_relu": 1, "lstm": 4, "gru": 3}


def sigmoid(v):
    return 1.0 / (1.0 + np.exp(-v))


def run_direction(cell, x, p, h0, c0, lengths, reverse, forget_bias):
    """x: (T, B, F) time-major. Returns outputs (T, B, H), final h (B, H), final c (B, H) or None."""
    wih, whh, bih, bhh = p
    T = x.shape[0]
    H = whh.shape[1]
    h, c = h0.copy(), (c0.copy() if c0 is not None else None)
    out = np.zeros((T, x.shape[1], H))
    for t in (range(T - 1, -1, -1) if reverse else range(T)):
        active = (t < lengths)[:, None]
        gi = x[t] @ wih.T + bih
        gh = h @ whh.T + bhh
        c_new = None
        if cell == "lstm":
            pre = gi + gh
            i = sigmoid(pre[:, 0:H])
            f = sigmoid(pre[:, H:2 * H] + forget_bias)
            g = np.tanh(pre[:, 2 * H:3 * H])
            o = sigmoid(pre[:, 3 * H:4 * H])
            c_new = f * c + i * g
            h_new = o * np.tanh(c_new)
        elif cell == "gru":
            r = sigmoid(gi[:, 0:H] + gh[:, 0:H])
            z = sigmoid(gi[:, H:2 * H] + gh[:, H:2 * H])
            n = np.tanh(gi[:, 2 * H:] + r * gh[:, 2 * H:])
            h_new = (1 - z) * n + z * h
        elif cell == "rnn_tanh":
            h_new = np.tanh(gi + gh)
        else:
            h_new = np.maximum(gi + gh, 0.0)
        out[t] = np.where(active, h_new, 0.0)
        h = np.where(active, h_new, h)
        if c is not None:
            c = np.where(active, c_new, c)
    return out, h, c


def run_stack(case, params, x, h0, c0, lengths):
    """x: (B, T, F) batch-first. Returns output (B, T, ·), h_n (L*D, B, H), c_n or None."""
    D = 2 if case["bidirectional"] else 1
    layer_in = np.transpose(x, (1, 0, 2))
    hs, cs = [], []
    for layer in range(case["num_layers"]):
        outs = []
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            p = [params[n + sfx] for n in ("weight_ih", "weight_hh", "bias_ih", "bias_hh")]
            slot = layer * D + d
            out, h, c = run_direction(case["cell"], layer_in, p, h0[slot], None if c0 is None else c0[slot],
                                      lengths, d == 1, case["forget_bias"])
            outs.append(out)
            hs.append(h)
            cs.append(c)
        last = layer == case["num_layers"] - 1
        if D == 2 and last and case["merge"] == "sum":
            layer_in = outs[0] + outs[1]
        else:
            layer_in = np.concatenate(outs, axis=2)
    c_n = np.stack(cs) if case["cell"] == "lstm" else None
    return np.transpose(layer_in, (1, 0, 2)), np.stack(hs), c_n


def make_case(rng, name, cell, num_layers=1, bidirectional=False, merge="concat", forget_bias=0.0,
              with_state=False, lengths=None, B=3, T=5, F=4, H=6):
    case = dict(name=name, cell=cell, input_size=F, hidden_size=H, num_layers=num_layers,
                bidirectional=bidirectional, merge=merge, forget_bias=forget_bias, batch=B, steps=T)
    D = 2 if bidirectional else 1
    gH = GATES[cell] * H
    k = 1 / np.sqrt(H)
    params = {}
    for layer in range(num_layers):
        fin = F if layer == 0 else D * H
        for d in range(D):
            sfx = f"_l{layer}" + ("_reverse" if d == 1 else "")
            params["weight_ih" + sfx] = rng.uniform(-k, k, (gH, fin))
            params["weight_hh" + sfx] = rng.uniform(-k, k, (gH, H))
            params["bias_ih" + sfx] = rng.uniform(-k, k, (gH,))
            params["bias_hh" + sfx] = rng.uniform(-k, k, (gH,))
    x = rng.uniform(-1, 1, (B, T, F))
    h0 = rng.uniform(-0.5, 0.5, (num_layers * D, B, H)) if with_state else np.zeros((num_layers * D, B, H))
    c0 = None
    if cell == "lstm":
        c0 = rng.uniform(-0.5, 0.5, (num_layers * D, B, H)) if with_state else np.zeros((num_layers * D, B, H))
    lens = np.array(lengths if lengths is not None else [T] * B)
    out, h_n, c_n = run_stack(case, params, x, h0, c0, lens)
    flat = lambda a: [float(v) for v in np.asarray(a).ravel()]
    case.update(
        input=flat(x), lengths=lengths,
        h0=flat(h0) if with_state else None,
        c0=flat(c0) if (with_state and c0 is not None) else None,
        parameters={n: dict(shape=list(v.shape), values=flat(v)) for n, v in params.items()},
        output_shape=list(out.shape), output=flat(out), h_n=flat(h_n),
        c_n=flat(c_n) if c_n is not None else None,
    )
    return case


def main():
    rng = np.random.default_rng(20261122)
    cases = [
        make_case(rng, "lstm", "lstm"),
        make_case(rng, "lstm-forget-bias-state", "lstm", forget_bias=1.0, with_state=True),
        make_case(rng, "lstm-2-layers-bidirectional-lengths", "lstm", num_layers=2, bidirectional=True,
                  with_state=True, lengths=[5, 1, 3]),
        make_case(rng, "lstm-bidirectional-sum", "lstm", bidirectional=True, merge="sum", lengths=[2, 5, 4]),
        make_case(rng, "gru", "gru", with_state=True),
        make_case(rng, "gru-2-layers-bidirectional-lengths", "gru", num_layers=2, bidirectional=True,
                  lengths=[3, 5, 0]),
        make_case(rng, "rnn-tanh-2-layers-state-lengths", "rnn_tanh", num_layers=2, with_state=True,
                  lengths=[1, 4, 5]),
        make_case(rng, "rnn-relu-bidirectional", "rnn_relu", bidirectional=True),
    ]
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "recurrent_fixtures.json")
    with open(path, "w") as f:
        json.dump({"generator": "make_recurrent_fixtures.py", "cases": cases}, f)
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
