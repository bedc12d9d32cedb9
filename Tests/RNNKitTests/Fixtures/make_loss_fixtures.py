#!/usr/bin/env python3
"""Float64 reference for RNNKit's losses; writes loss_fixtures.json beside itself.

Rerun from the repository root with:  python3 Tests/RNNKitTests/Fixtures/make_loss_fixtures.py
Needs only numpy. Cross-entropy from logits via log-sum-exp, and TF's sequence_loss
(sum of weighted per-step cross-entropies over the sum of the weights), with analytic gradients
d loss / d logits = w / sum(w) * (softmax(z) - p).
"""
import json
import os

import numpy as np


def log_softmax(z):
    m = z.max(axis=-1, keepdims=True)
    return z - (m + np.log(np.exp(z - m).sum(axis=-1, keepdims=True)))


def main():
    rng = np.random.default_rng(7)
    flat = lambda a: [float(v) for v in np.asarray(a).ravel()]
    cases = {}

    # Class indices, with a large logit to show log-sum-exp keeps it finite.
    z = rng.normal(0, 3, (5, 7))
    z[2, 4] = 120.0
    y = np.array([0, 6, 4, 3, 1])
    ls = log_softmax(z)
    loss = -ls[np.arange(5), y].mean()
    grad = (np.exp(ls) - np.eye(7)[y]) / 5
    cases["indices"] = dict(shape=[5, 7], logits=flat(z), labels=y.tolist(), loss=float(loss), grad=flat(grad))

    # Soft target distributions.
    z = rng.normal(0, 2, (4, 3))
    p = rng.uniform(0, 1, (4, 3))
    p /= p.sum(axis=1, keepdims=True)
    ls = log_softmax(z)
    loss = -(p * ls).sum(axis=1).mean()
    grad = (np.exp(ls) - p) / 4
    cases["distributions"] = dict(shape=[4, 3], logits=flat(z), targets=flat(p), loss=float(loss), grad=flat(grad))

    # sequence_loss with weights (B=2, T=3, V=5), one step weighted 0.
    z = rng.normal(0, 1.5, (2, 3, 5))
    y = rng.integers(0, 5, (2, 3))
    w = np.array([[1.0, 0.5, 0.0], [2.0, 1.0, 1.0]])
    ls = log_softmax(z)
    ce = -np.take_along_axis(ls, y[..., None], axis=2)[..., 0]
    loss = (w * ce).sum() / w.sum()
    grad = (np.exp(ls) - np.eye(5)[y]) * (w / w.sum())[..., None]
    cases["sequence"] = dict(shape=[2, 3, 5], logits=flat(z), labels=flat(y.astype(float)), weights=flat(w),
                             loss=float(loss), grad=flat(grad))

    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "loss_fixtures.json")
    with open(path, "w") as f:
        json.dump(cases, f, indent=1)
    print(f"wrote {len(cases)} cases to {path}")


if __name__ == "__main__":
    main()
