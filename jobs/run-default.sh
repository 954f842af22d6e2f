#!/usr/bin/env bash
# The default job: train the paper's MNIST network (784-200-200-10, ReLU, Adam lr 1e-3,
# batch 32, 10 epochs), then evaluate it on the test split. Output under out/.
set -euo pipefail
cd "$(dirname "$0")/.."
mkdir -p out
./build/ioca train --dataset mnist --hidden 200,200 --activation relu --epochs 10 \
  --batch-size 32 --lr 1e-3 --optimizer adam --seed 1 --out out/mnist-relu-200-200.h5
./build/ioca evaluate --model out/mnist-relu-200-200.h5 --split test --json
