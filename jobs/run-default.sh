#!/usr/bin/env bash
# The default job: the paper's MNIST network (784-200-200-10, ReLU, Adam lr 1e-3, batch 32,
# 10 epochs), its per-neuron measures on the validation split, and cumulative ablation
# curves on the test split (entropy, mutual information, KL selectivity, ascending and
# descending, 10 random orders, scopes layer0, layer1, network). Output under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
model=out/mnist-relu-200-200.h5
./build/ioca train --dataset mnist --hidden 200,200 --activation relu --epochs 10 \
  --batch-size 32 --lr 1e-3 --optimizer adam --seed 1 --out "$model"
./build/ioca evaluate --model "$model" --split test --json
./build/ioca measure --model "$model" --out out/mnist-relu-200-200.measures.h5 --print
./build/ioca ablate --model "$model" --measures out/mnist-relu-200-200.measures.h5 \
  --out out/mnist-relu-200-200.ablation.h5
