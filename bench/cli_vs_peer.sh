#!/usr/bin/env bash
# What a user sees: `crank train` on a Criteo TSV file on disk against the PyTorch peer
# (../shared/peer/torch_ranking.py, SGD, its fastest) on the same file, back to back, REPEATS
# pairs per configuration and batch size. The rates are each engine's own training examples/s:
# crank's train_examples_per_sec of --metrics-out (the number `crank train` prints), the peer's
# train_examples_per_sec (its data already in memory). Prints each pair and the median of the
# paired ratios crank / peer.
#
# usage: bench/cli_vs_peer.sh BUILD_DIR [ROWS] [REPEATS] [THREADS]
#   defaults: 300000 rows, 3 repeats, 2 threads. Environment: CONFIGS ["tfrs-default
#   criteo-dlrm"], BATCHES ["128 2048"]. Needs BUILD_DIR/bin/crank and Debian's python3-torch.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [ROWS] [REPEATS] [THREADS]}" && pwd)
rows=${2:-300000}
repeats=${3:-3}
threads=${4:-2}
CONFIGS=${CONFIGS:-tfrs-default criteo-dlrm}
BATCHES=${BATCHES:-128 2048}
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
for cfg in $CONFIGS; do
  read -r bottom top <<<"$(stacks "$cfg")"
  for b in $BATCHES; do
    ratios=()
    for ((r = 1; r <= repeats; ++r)); do
      "$build/bin/crank" -q train --train "$work/train.tsv" --model-out "$work/m.crank" \
        --bottom "$bottom" --top "$top" --interaction dot --batch-size "$b" --threads "$threads" \
        --metrics-out "$work/m.json"
      c=$(tr -d ' \n' <"$work/m.json" | sed -n 's/.*"train_examples_per_sec":\([0-9.]*\).*/\1/p')
      p=$(/usr/bin/python3 "$peer" --train "$work/train.tsv" --bottom "$bottom" --top "$top" \
        --interaction dot --batch-size "$b" --threads "$threads" | tail -n 1 |
        sed -n 's/.*"train_examples_per_sec": *\([0-9.]*\).*/\1/p')
      echo "$cfg batch $b pair $r: crank $c peer $p ex/s"
      ratios+=("$(awk -v a="$c" -v b="$p" 'BEGIN {print a / b}')")
    done
    printf '%s\n' "${ratios[@]}" | sort -g | awk -v name="$cfg batch $b" '{v[NR]=$1}
      END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2;
           printf "%s: median crank/peer %.2f over %d pairs (min %.2f, max %.2f)\n", name, m, NR, v[1], v[NR]}'
  done
done
