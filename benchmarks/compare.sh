#!/usr/bin/env bash
# RNNKit against PyTorch, side by side (benchmarks/compare.py), in the torch environment of
# benchmarks/with-torch.sh. Arguments go to the script, e.g.
#   bash benchmarks/compare.sh --seconds 3 --rounds 2 --only lstm128 gru128
exec bash "$(dirname "$0")/with-torch.sh" benchmarks/compare.py "$@"
