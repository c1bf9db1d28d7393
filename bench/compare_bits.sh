#!/usr/bin/env bash
# Whether two builds of crank compute the same bits: each trains the same model on the same
# synthetic data (40 steps of 256 rows) and predicts on held-out rows, for every interaction
# (dot, cross, concat), GEMM precision (fp32, bf16) and thread count (1, 2); the model files and
# the prediction files of the two builds are compared byte for byte. Used to show that a change
# meant to leave the numerics alone (a workspace or copy change) does (docs/performance.md,
# "Step overheads and the training workspace").
#
# usage: bench/compare_bits.sh BASELINE_BIN_DIR CANDIDATE_BIN_DIR
#   (each holds a `crank` CLI). Exits non-zero when any pair differs.
set -euo pipefail
[ $# -eq 2 ] || { echo "usage: $0 BASELINE_BIN_DIR CANDIDATE_BIN_DIR" >&2; exit 2; }
old="$1/crank"
new="$2/crank"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$new" -q gen --rows 12000 --out "$work/train.tsv" --seed 1
"$new" -q gen --rows 3000 --out "$work/eval.tsv" --seed 2
status=0
for interaction in dot cross concat; do
  for precision in fp32 bf16; do
    for threads in 1 2; do
      for side in old new; do
        bin=$old
        [ "$side" = new ] && bin=$new
        "$bin" -q train --train "$work/train.tsv" --model-out "$work/model_$side" \
          --interaction "$interaction" --precision "$precision" --threads "$threads" \
          --batch-size 256 --max-steps 40 --hash-buckets 1000 --seed 3 > "$work/log_$side" 2>&1 ||
          { echo "$side: train failed"; cat "$work/log_$side"; exit 1; }
        "$bin" -q predict --model "$work/model_$side" --data "$work/eval.tsv" \
          --out "$work/pred_$side" --threads "$threads" --batch-size 512 > /dev/null
      done
      models=identical
      cmp -s "$work/model_old" "$work/model_new" || { models=DIFFERENT; status=1; }
      predictions=identical
      cmp -s "$work/pred_old" "$work/pred_new" || { predictions=DIFFERENT; status=1; }
      echo "$interaction $precision threads=$threads: model files $models, predictions $predictions"
    done
  done
done
exit $status
