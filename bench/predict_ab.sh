#!/usr/bin/env bash
# `crank predict` of two builds, interleaved, on the same models and file: what the command's own
# rate (reading, parsing, mapping, forward passes and writing the predictions) gains from a
# change, that the predictions keep their bytes, and where the candidate stands against the
# PyTorch peer's in-memory inference rate (../shared/peer/torch_ranking.py) measured in the same
# pairs.
#
# For each configuration, the candidate trains a model (`--batch-size TRAIN_BATCH`, precision
# auto: bf16 GEMMs at 2048 on an AVX512-BF16 CPU; TRAIN_STEPS steps, the speed of inference does
# not depend on how long the model trained). Then REPEATS rounds, each: the peer (when PEER=1,
# trained for 32 steps of 2048 rows on the first 65,536 rows, inference over them at batch 2048),
# then `crank predict --batch-size INFER_BATCH` of both builds on the whole file, the order of
# the two alternating from round to round. Every round's two prediction files must be
# byte-identical (exit 1 otherwise). Prints each round, the median of the paired ratios
# candidate / baseline, of candidate / peer and of baseline / peer, and `uptime` before and
# after.
#
# usage: bench/predict_ab.sh BASELINE_BIN_DIR CANDIDATE_BIN_DIR [ROWS] [REPEATS] [THREADS]
#   defaults: 300000 rows, 5 repeats, 2 threads. Environment: CONFIGS ["criteo-dlrm
#   tfrs-default"], TRAIN_BATCH [2048], TRAIN_STEPS [20], INFER_BATCH [2048], PEER [1].
set -euo pipefail
usage="usage: $0 BASELINE_BIN_DIR CANDIDATE_BIN_DIR [ROWS] [REPEATS] [THREADS]"
[[ $# -ge 2 ]] || { echo "$usage" >&2; exit 2; }
base=$1/crank
cand=$2/crank
for b in "$base" "$cand"; do
  [[ -x $b ]] || { echo "predict_ab.sh: no crank at $b" >&2; exit 2; }
done
rows=${3:-300000}
repeats=${4:-5}
threads=${5:-2}
CONFIGS=${CONFIGS:-criteo-dlrm tfrs-default}
TRAIN_BATCH=${TRAIN_BATCH:-2048}
TRAIN_STEPS=${TRAIN_STEPS:-20}
INFER_BATCH=${INFER_BATCH:-2048}
PEER=${PEER:-1}
here=$(cd "$(dirname "$0")" && pwd)
peer=$here/../../shared/peer/torch_ranking.py
[[ $PEER == 0 || -f $peer ]] || { echo "predict_ab.sh: no peer at $peer (PEER=0 skips it)" >&2; exit 2; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$cand" -q gen --rows "$rows" --seed 1 --out "$work/data.tsv"
head -n 65536 "$work/data.tsv" >"$work/peer.tsv"

stacks() {  # bottom top for a configuration
  case $1 in
    criteo-dlrm) echo "512,256,64,16 512,256,1" ;;
    tfrs-default) echo "256,64,16 512,256,1" ;;
    *) echo "predict_ab.sh: unknown configuration $1" >&2; exit 2 ;;
  esac
}
rate() {  # BIN OUT: examples/s of one `crank predict` over the file
  "$1" predict --model "$work/m.crank" --data "$work/data.tsv" --batch-size "$INFER_BATCH" \
    --threads "$threads" --out "$2" 2>&1 |
    sed -n 's/.*predictions to .* (\([0-9.]*\) examples\/s).*/\1/p'
}
median_line() {  # NAME < ratios, one a line
  sort -g | awk -v name="$1" '{v[NR]=$1}
    END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2;
         printf "%s: median %.3f over %d pairs (min %.3f, max %.3f)\n", name, m, NR, v[1], v[NR]}'
}
echo "load before: $(uptime)"
status=0
for cfg in $CONFIGS; do
  read -r bottom top <<<"$(stacks "$cfg")"
  "$cand" -q train --train "$work/data.tsv" --model-out "$work/m.crank" --hash-buckets 100000 \
    --bottom "$bottom" --top "$top" --interaction dot --batch-size "$TRAIN_BATCH" \
    --max-steps "$TRAIN_STEPS" --threads "$threads"
  gains=() base_peer=() cand_peer=()
  for ((r = 1; r <= repeats; ++r)); do
    p=""
    if [[ $PEER == 1 ]]; then
      p=$(/usr/bin/python3 "$peer" --train "$work/peer.tsv" --bottom "$bottom" --top "$top" \
        --interaction dot --batch-size 2048 --threads "$threads" | tail -n 1 |
        tr -d ' \n' | sed -n 's/.*"inference_examples_per_sec":\([0-9.]*\).*/\1/p')
    fi
    if ((r % 2)); then
      b=$(rate "$base" "$work/p_base.txt")
      c=$(rate "$cand" "$work/p_cand.txt")
    else
      c=$(rate "$cand" "$work/p_cand.txt")
      b=$(rate "$base" "$work/p_base.txt")
    fi
    same=identical
    cmp -s "$work/p_base.txt" "$work/p_cand.txt" || { same=DIFFERENT; status=1; }
    echo "$cfg round $r: baseline $b, candidate $c ex/s${p:+, peer $p ex/s}; predictions $same"
    gains+=("$(awk -v a="$c" -v b="$b" 'BEGIN {print a / b}')")
    if [[ -n $p ]]; then
      base_peer+=("$(awk -v a="$b" -v b="$p" 'BEGIN {print a / b}')")
      cand_peer+=("$(awk -v a="$c" -v b="$p" 'BEGIN {print a / b}')")
    fi
  done
  printf '%s\n' "${gains[@]}" | median_line "$cfg candidate / baseline"
  if ((${#cand_peer[@]})); then
    printf '%s\n' "${base_peer[@]}" | median_line "$cfg baseline / peer"
    printf '%s\n' "${cand_peer[@]}" | median_line "$cfg candidate / peer"
  fi
done
echo "load after: $(uptime)"
exit $status
