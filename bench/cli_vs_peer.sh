#!/usr/bin/env bash
# What a user sees: `crank train` and `crank predict` on a Criteo TSV file on disk against the
# PyTorch peer (../shared/peer/torch_ranking.py, SGD, its fastest) on the same file, back to
# back, REPEATS pairs per configuration, precision and batch size.
#
# Training: each engine's own training examples/s: crank's train_examples_per_sec of
# --metrics-out (the number `crank train` prints: the step loop from the first batch read to the
# last step, reading and parsing included; start-up, table initialisation and the checkpoint at
# the end are not), the peer's train_examples_per_sec (its data already in memory). crank runs
# with its default optimizers (Adagrad on the tables, Adam on the dense layers) and --precision
# PRECISION; the peer always computes in fp32.
# Inference: `crank predict --batch-size INFER_BATCH` over the whole file with the model just
# trained (its examples/s, reading, parsing and writing the predictions included) against the
# peer's inference_examples_per_sec (forward passes at batch 2048 over its first 65,536 rows,
# in memory).
# Also printed per pair: the wall and CPU seconds of the whole `crank train` command.
# Prints each pair and the medians of the paired ratios crank / peer.
#
# usage: bench/cli_vs_peer.sh BUILD_DIR [ROWS] [REPEATS] [THREADS]
#   defaults: 300000 rows, 3 repeats, 2 threads. Environment: CONFIGS ["tfrs-default
#   criteo-dlrm"], BATCHES ["128 2048"], PRECISIONS ["fp32"] (e.g. "fp32 bf16"), INFER_BATCH
#   [2048], PREDICT [1] (0: training only). Needs BUILD_DIR/bin/crank and Debian's python3-torch.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [ROWS] [REPEATS] [THREADS]}" && pwd)
rows=${2:-300000}
repeats=${3:-3}
threads=${4:-2}
CONFIGS=${CONFIGS:-tfrs-default criteo-dlrm}
BATCHES=${BATCHES:-128 2048}
PRECISIONS=${PRECISIONS:-fp32}
INFER_BATCH=${INFER_BATCH:-2048}
PREDICT=${PREDICT:-1}
here=$(cd "$(dirname "$0")" && pwd)
peer=$here/../../shared/peer/torch_ranking.py
[[ -f $peer ]] || { echo "cli_vs_peer.sh: no peer at $peer" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$build/bin/crank" -q gen --rows "$rows" --seed 1 --out "$work/train.tsv"

stacks() {  # bottom top for a configuration
  case $1 in
    criteo-dlrm) echo "512,256,64,16 512,256,1" ;;
    tfrs-default) echo "256,64,16 512,256,1" ;;
    *) echo "cli_vs_peer.sh: unknown configuration $1" >&2; exit 2 ;;
  esac
}
json_field() {  # NAME < JSON text: the number of the first "NAME": value
  tr -d ' \n' | sed -n "s/.*\"$1\":\([0-9.]*\).*/\1/p"
}
median_line() {  # NAME < ratios, one a line
  sort -g | awk -v name="$1" '{v[NR]=$1}
    END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2;
         printf "%s: median crank/peer %.2f over %d pairs (min %.2f, max %.2f)\n", name, m, NR, v[1], v[NR]}'
}
for cfg in $CONFIGS; do
  read -r bottom top <<<"$(stacks "$cfg")"
  for prec in $PRECISIONS; do
    for b in $BATCHES; do
      train_ratios=()
      infer_ratios=()
      for ((r = 1; r <= repeats; ++r)); do
        /usr/bin/time -o "$work/time.txt" -f "%e %U %S" \
          "$build/bin/crank" -q train --train "$work/train.tsv" --model-out "$work/m.crank" \
          --hash-buckets 100000 --bottom "$bottom" --top "$top" --interaction dot --batch-size "$b" \
          --threads "$threads" --precision "$prec" --metrics-out "$work/m.json"
        c=$(json_field train_examples_per_sec <"$work/m.json")
        read -r wall user sys <"$work/time.txt"
        ci=""
        if [[ $PREDICT == 1 ]]; then
          ci=$("$build/bin/crank" predict --model "$work/m.crank" --data "$work/train.tsv" \
            --batch-size "$INFER_BATCH" --threads "$threads" --precision "$prec" \
            --out "$work/p.txt" 2>&1 | sed -n 's/.*predictions to .* (\([0-9.]*\) examples\/s).*/\1/p')
        fi
        out=$(/usr/bin/python3 "$peer" --train "$work/train.tsv" --bottom "$bottom" --top "$top" \
          --interaction dot --batch-size "$b" --threads "$threads" | tail -n 1)
        p=$(json_field train_examples_per_sec <<<"$out")
        pi=$(json_field inference_examples_per_sec <<<"$out")
        echo "$cfg $prec batch $b pair $r: train crank $c peer $p ex/s" \
          "(crank train command: wall $wall s, CPU $user+$sys s)" \
          "${ci:+predict crank $ci peer $pi ex/s}"
        train_ratios+=("$(awk -v a="$c" -v b="$p" 'BEGIN {print a / b}')")
        [[ -n $ci ]] && infer_ratios+=("$(awk -v a="$ci" -v b="$pi" 'BEGIN {print a / b}')")
      done
      printf '%s\n' "${train_ratios[@]}" | median_line "$cfg $prec train batch $b"
      if ((${#infer_ratios[@]})); then
        printf '%s\n' "${infer_ratios[@]}" |
          median_line "$cfg $prec predict batch $INFER_BATCH (models of train batch $b)"
      fi
    done
  done
done
