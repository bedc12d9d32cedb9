#!/usr/bin/env bash
# Runs a Python script of this repository in a virtual environment with torch, safetensors and numpy,
# made on first use from PyPI (RNNKIT_TORCH_VENV picks another folder than .venv), after a release
# build of rnnkit. The test suite never needs any of it.
#   bash benchmarks/with-torch.sh SCRIPT.py [ARGUMENTS...]
set -euo pipefail
cd "$(dirname "$0")/.."
venv=${RNNKIT_TORCH_VENV:-.venv}
if [ ! -x "$venv/bin/python" ]; then python3 -m venv "$venv"; fi
"$venv/bin/python" -c "import torch, safetensors, numpy" 2>/dev/null || "$venv/bin/pip" install -q torch safetensors numpy
swift build -c release
script=$1
shift
exec "$venv/bin/python" "$script" "$@"
