#!/usr/bin/env bash
# RNNKit and PyTorch checkpoints agree (scripts/pytorch_check.py), in the torch environment of
# benchmarks/with-torch.sh. Arguments go to the script, e.g. --model runs/mnist-...
exec bash "$(dirname "$0")/../benchmarks/with-torch.sh" scripts/pytorch_check.py "$@"
