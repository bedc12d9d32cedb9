#!/usr/bin/env bash
# Runs benchmarks/charlm_compare.py in a virtual environment with torch (made on first use, from PyPI;
# the tests never need it). Arguments go to the script, e.g. --preset tang --steps 300
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${RNNKIT_TORCH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import torch" 2>/dev/null || "$venv/bin/pip" install -q torch numpy
swift build -c release
exec "$venv/bin/python" benchmarks/charlm_compare.py "$@"
