#!/usr/bin/env python3
"""Writes the NumPy fixtures RNNKit's reader is tested on: arrays saved by numpy itself (np.save,
np.savez, np.savez_compressed) in every dtype, byte order and layout the reader accepts, and
expected.json holding each array's shape and values as numpy reads them back.
Run: python3 Tests/RNNKitTests/Fixtures/numpy/make_numpy_fixtures.py"""
import json, os
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
rng = np.random.default_rng(12)
base = rng.normal(size=(2, 3, 4))
arrays = {
    "f4": base.astype("<f4"),
    "f8_big": base.astype(">f8"),
    "f8_fortran": np.asfortranarray(base),
    "i1": np.array([-128, -1, 0, 127], dtype="i1"),
    "i2_big": np.array([[-300, 2], [3, 30000]], dtype=">i2"),
    "i8": np.array([-(2 ** 40), 5, 2 ** 62], dtype="<i8"),
    "u2": np.array([0, 65535, 7], dtype="<u2"),
    "bool": np.array([True, False, True]),
    "unicode": np.array(["cat", "dög", "", "好"]),
    "bytes": np.array([b"ab", b"c"]),
    "scalar": np.array(2.5, dtype="f4"),
    "empty": np.zeros((0, 3), dtype="f4"),
}
expected = {}
for name, a in arrays.items():
    np.save(os.path.join(here, name + ".npy"), a)
    b = np.load(os.path.join(here, name + ".npy"))
    values = b.ravel(order="C")
    if b.dtype.kind in "US":
        values = [v.decode() if isinstance(v, bytes) else str(v) for v in values]
    elif b.dtype.kind == "f":
        values = [float(np.float32(v)) for v in values]
    else:
        values = [int(v) for v in values]
    expected[name] = {"shape": list(b.shape), "values": values}
# Version 2.0 header (np.lib.format with a forced version).
with open(os.path.join(here, "v2.npy"), "wb") as f:
    np.lib.format.write_array(f, base[0].astype("<f4"), version=(2, 0))
expected["v2"] = {"shape": [3, 4], "values": [float(np.float32(v)) for v in base[0].ravel()]}

# Sequence archives: x (N, T, F), y, lengths; stored and deflated.
x = rng.normal(size=(3, 4, 2)).astype("f4")
np.savez(os.path.join(here, "sequences.npz"), x=x, y=np.array(["b", "a", "b"]), lengths=np.array([4, 1, 2]))
np.savez_compressed(os.path.join(here, "tagging.npz"), x=x.astype("f8"), y=np.array([[0, 1, 1, 0], [2, 0, 0, 0], [1, 1, 0, 0]]),
                    lengths=np.array([4, 1, 2], dtype="i4"))
expected["sequences.npz"] = {"x": [float(v) for v in x.ravel()]}
with open(os.path.join(here, "expected.json"), "w") as f:
    json.dump(expected, f, indent=1, ensure_ascii=False)
