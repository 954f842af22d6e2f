#!/usr/bin/env bash
# The study config of tests/bench/study_scale.sh for N networks (N even), on stdout:
# synthetic data (3,000 train incl. 1,000 validation / 1,000 test, 32 features), hidden
# 16x16, relu and tanh with N/2 seeds each, 1 epoch, quantities entropy,
# mutual_information, kl_selectivity, both directions, every scope, 3 random orders, every
# step, single-neuron damage, a checkpoint every 20 s.
# usage: tests/bench/scale_config.sh N > scaleN.ini
set -euo pipefail
n=${1:?usage: scale_config.sh N}
((n >= 2 && n % 2 == 0)) || { echo "scale_config.sh: N must be even and >= 2, not $n" >&2; exit 2; }
cat <<INI
name = scale$n
[data]
datasets = synthetic
synthetic_samples = 3000
synthetic_test_samples = 1000
synthetic_features = 32
[network]
hidden = 16x16
activations = relu, tanh
seeds = $(seq -s, 1 $((n / 2)))
[train]
epochs = 1
[ablation]
quantities = entropy, mutual_information, kl_selectivity
directions = ascending, descending
scopes = all
random = 3
steps = 0
single = true
[run]
checkpoint_interval = 20
INI
