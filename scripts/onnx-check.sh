#!/usr/bin/env bash
# Checks `rnnkit export onnx` against ONNX Runtime (scripts/onnx_check.py) in a virtual environment
# with onnxruntime, onnx and numpy, made on first use from PyPI (RNNKIT_ONNX_VENV picks another
# folder than .venv-onnx), after a release build. The test suite never needs any of it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${RNNKIT_ONNX_VENV:-.venv-onnx}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import onnxruntime, onnx, numpy" 2>/dev/null || "$venv/bin/pip" install -q onnxruntime onnx numpy
swift build -c release
exec "$venv/bin/python" scripts/onnx_check.py "$@"
