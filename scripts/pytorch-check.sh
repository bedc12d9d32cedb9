#!/usr/bin/env bash
# Runs scripts/pytorch_check.py in a virtual environment with torch and safetensors (made on first use,
# from PyPI; the test suite never needs it). Arguments go to the script, e.g. --model runs/mnist-...
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${RNNKIT_TORCH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import torch, safetensors, numpy" 2>/dev/null || "$venv/bin/pip" install -q torch safetensors numpy
[ -x .build/release/rnnkit ] || swift build -c release
exec "$venv/bin/python" scripts/pytorch_check.py "$@"
