#!/usr/bin/env bash
# RNNKit against PyTorch, side by side (benchmarks/compare.py). Makes a virtual environment with torch
# on first use (RNNKIT_TORCH_VENV picks another); the tests never need it. Arguments go to the script,
# e.g. bash benchmarks/compare.sh --seconds 3 --rounds 2 --only lstm128 gru128
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${RNNKIT_TORCH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/pip" install -q torch numpy
swift build -c release
exec "$venv/bin/python" benchmarks/compare.py "$@"
