#!/usr/bin/env bash
# The main job on built-in data: generate Criteo-format synthetic data (a hidden click model),
# train a DLRM (the TFRS Ranking defaults) for one epoch, evaluate it on held-out rows, write
# predictions, and print the metrics.
set -euo pipefail
build=${1:-build}
crank="$build/bin/crank"
out=${DEMO_DIR:-$build/demo}
mkdir -p "$out"

echo "== generating 200,000 training rows and 50,000 held-out rows (same hidden click model)"
"$crank" gen --rows 200000 --seed 1 --out "$out/train.tsv"
"$crank" gen --rows 50000 --seed 2 --out "$out/eval.tsv"

echo "== training a DLRM for one epoch"
"$crank" train --train "$out/train.tsv" --eval "$out/eval.tsv" --model-out "$out/dlrm.crank" \
  --metrics-out "$out/train_metrics.json"

echo "== evaluating the saved model on the held-out rows"
"$crank" eval --model "$out/dlrm.crank" --data "$out/eval.tsv" --metrics-out "$out/eval_metrics.json"

echo "== writing predictions"
"$crank" predict --model "$out/dlrm.crank" --data "$out/eval.tsv" --out "$out/predictions.txt"
head -3 "$out/predictions.txt"

echo "== done: model $out/dlrm.crank, metrics $out/eval_metrics.json, predictions $out/predictions.txt"
