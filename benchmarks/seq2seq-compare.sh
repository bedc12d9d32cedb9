#!/usr/bin/env bash
# The same encoder–decoder trained in RNNKit and PyTorch (benchmarks/seq2seq_compare.py), in the torch
# environment of benchmarks/with-torch.sh. Arguments go to the script, e.g. --task g2p --steps 1500
exec bash "$(dirname "$0")/with-torch.sh" benchmarks/seq2seq_compare.py "$@"
