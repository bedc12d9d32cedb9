#!/usr/bin/env bash
# The same character model trained in RNNKit and PyTorch (benchmarks/charlm_compare.py), in the torch
# environment of benchmarks/with-torch.sh. Arguments go to the script, e.g. --preset tang --steps 300
exec bash "$(dirname "$0")/with-torch.sh" benchmarks/charlm_compare.py "$@"
