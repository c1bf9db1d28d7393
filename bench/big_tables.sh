#!/usr/bin/env bash
# Big tables: training throughput with 26 tables of BUCKETS + 1 rows (dim 16, tfrs-default
# dense stack), uniform and Zipf ids, crank (bench/train_throughput) and the PyTorch peer
# (../shared/peer/torch_ranking.py) on the same ids: each crank run writes its training rows as
# a Criteo TSV (--write-tsv) that the peer trains on with the same --buckets. The two engines
# run one after the other, never together (at 4M rows one fp32 copy of the tables is 6.7 GB).
# One JSON line per measurement on stdout (crank's train line, then the peer's line with
# "engine": "torch" added); docs/performance.md, "Big tables".
#
# usage: bench/big_tables.sh [BUILD_DIR]
# Environment (defaults in brackets):
#   BUCKETS ["100000 1000000"]  IDS ["uniform zipf"]  BATCHES ["2048"]  THREADS [2]
#   REPEATS [2]  ROWS [65536] training rows per run (crank cycles over them for MIN_SECONDS;
#   the peer makes one pass)  MIN_SECONDS [3]  PEER [1]  EMB_OPT [sgd] (the peer's default)
#   EXTRA ['']  more train_throughput flags (e.g. --zipf-exponent=0.8)
#   TMP [/tmp]  where the TSV for the peer goes (ROWS x 40 columns; removed after each pair)
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
build=${1:-build}
[[ $build = /* ]] || build=$PWD/$build
bin=$build/bin/train_throughput
peer=$root/../shared/peer/torch_ranking.py
BUCKETS=${BUCKETS:-100000 1000000}
IDS=${IDS:-uniform zipf}
BATCHES=${BATCHES:-2048}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-2}
ROWS=${ROWS:-65536}
MIN_SECONDS=${MIN_SECONDS:-3}
PEER=${PEER:-1}
EMB_OPT=${EMB_OPT:-sgd}
EXTRA=${EXTRA:-}
TMP=${TMP:-/tmp}
[[ -x $bin ]] || { echo "big_tables.sh: $bin not found; build with -DCRANK_BUILD_BENCH=ON" >&2; exit 1; }
if [[ $PEER = 1 ]] && ! { [[ -f $peer ]] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; }; then
  echo "big_tables.sh: PyTorch peer unavailable; running crank only" >&2
  PEER=0
fi
tsv=$TMP/crank_big_tables_$$.tsv
trap 'rm -f "$tsv"' EXIT
unset OMP_WAIT_POLICY GOMP_SPINCOUNT CRANK_RUNTIME_ENV

for rep in $(seq 1 "$REPEATS"); do
  for buckets in $BUCKETS; do
    for ids in $IDS; do
      for b in $BATCHES; do
        for t in $THREADS; do
          # The same OpenMP waiting for both engines of a pair (crank's choice at this moment).
          wait_env=$("$bin" --runtime-env | grep -E '^(OMP_WAIT_POLICY|GOMP_SPINCOUNT|CRANK_RUNTIME_ENV)=' | tr '\n' ' ')
          echo "# rep $rep: crank buckets $buckets ids $ids batch $b threads $t ($wait_env; load $(cut -d' ' -f1 /proc/loadavg))" >&2
          tsv_flag=()
          [[ $PEER = 1 ]] && tsv_flag=(--write-tsv="$tsv")
          # shellcheck disable=SC2086
          env $wait_env /usr/bin/time -f '# crank max RSS %M KB' "$bin" --config=tfrs-default --batch="$b" --threads="$t" \
            --modes=train --min-seconds="$MIN_SECONDS" --rows="$ROWS" --buckets="$buckets" \
            --ids="$ids" --emb-opt="$EMB_OPT" --gemm-peak=1 "${tsv_flag[@]}" $EXTRA |
            sed "s/^{/{\"rep\": $rep, /"
          if [[ $PEER = 1 ]]; then
            echo "# rep $rep: torch buckets $buckets ids $ids batch $b threads $t" >&2
            # shellcheck disable=SC2086
            line=$(env $wait_env /usr/bin/time -f '# torch max RSS %M KB' /usr/bin/python3 "$peer" --train "$tsv" \
                     --buckets "$buckets" --batch-size "$b" --threads "$t" --emb-opt "$EMB_OPT" \
                     --bottom 256,64,16 --top 512,256,1 --interaction dot | tail -n 1) ||
              { echo "# peer failed" >&2; continue; }
            echo "$line" | sed "s/^{/{\"rep\": $rep, \"engine\": \"torch\", \"buckets\": $buckets, \"ids\": \"$ids\", \"batch\": $b, /"
            rm -f "$tsv"
          fi
        done
      done
    done
  done
done
