#!/usr/bin/env python3
"""Fits the rational approximation of tanh that the vector kernels use (Sources/CKernels/wide.h,
tanh16): tanh(x) ≈ x·P(x²) / Q(x²) on |x| ≤ 7.905311 (beyond it tanh rounds to ±1 in float),
P of degree 6 and Q of degree 3 with Q(0) = 1, minimising the largest relative error (a linearised
least-squares fit, reweighted towards the worst points, Lawson's method). Prints the coefficients
and the fit's error in float64: about 1.5e-9, far below float32 rounding, so the kernel's error is
its own arithmetic's (a few ulp). The form is the one Eigen and TensorFlow use for float tanh; the
coefficients are fitted here.

    python3 scripts/fit_tanh.py
"""
import numpy as np

CLAMP = 7.90531110763549805
NUMERATOR, DENOMINATOR = 7, 4  # coefficients of P and Q, in powers of x²

x = np.sort(np.concatenate([np.linspace(1e-4, CLAMP, 40000), CLAMP * (1 - np.cos(np.linspace(0, np.pi / 2, 20000)))[1:]]))
t = (x / CLAMP) ** 2  # fitted in t = (x / CLAMP)² ∈ [0, 1], for a well-conditioned system
f = np.tanh(x) / x
weights, previous = np.ones_like(x), np.ones_like(x)
best = None
for _ in range(200):
    powers = np.vander(t, NUMERATOR, increasing=True)
    system = np.hstack([powers[:, :NUMERATOR], -f[:, None] * powers[:, 1:DENOMINATOR]])
    scale = np.sqrt(weights) / (f * previous)
    solution, *_ = np.linalg.lstsq(system * scale[:, None], f * scale, rcond=None)
    p, q = solution[:NUMERATOR], np.concatenate([[1.0], solution[NUMERATOR:]])
    previous = np.polyval(q[::-1], t)
    error = np.polyval(p[::-1], t) / previous / f - 1
    if best is None or np.abs(error).max() < best[0]:
        best = (np.abs(error).max(), p.copy(), q.copy())
    weights = weights * np.abs(error) ** 0.5
    weights /= weights.mean()
worst, p, q = best
print(f"largest relative error of the fit (float64): {worst:.3g}")
print("P (x^0, x^2, ...):", ", ".join(f"{c / CLAMP ** (2 * i):.17g}" for i, c in enumerate(p)))
print("Q (x^0, x^2, ...):", ", ".join(f"{c / CLAMP ** (2 * i):.17g}" for i, c in enumerate(q)))
