#!/usr/bin/env bash
# The serving table of docs/serving.md: `crank serve` under Debian's wrk on 127.0.0.1, 1-row
# requests at 1, 8 and 64 connections and 100-row requests at 1 and 8, with dynamic batching
# (--max-batch 512 --max-queue-delay-us 500) and without (--max-batch 0), then in-process
# Predict and the server's steps without HTTP at the same batch sizes (bench/serve_predict.cc).
#
#   bench/serve_bench.sh BUILD_DIR [SECONDS] [THREADS] [REPEATS]
#
# BUILD_DIR needs bin/crank and bin/serve_predict (configure with -DCRANK_BUILD_BENCH=ON and
# build the targets crank_cli and serve_predict). Each wrk run lasts SECONDS (default 5) with a
# 5 s request timeout; the servers run THREADS inference workers (default 2); the two servers
# (with and without batching) are measured alternately, REPEATS pairs (default 3), medians
# reported (bench/serve_bench.py). Works in a temporary folder and removes it.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=${2:-5}
threads=${3:-2}
repeats=${4:-3}
crank=$build/bin/crank
work=$(mktemp -d)
cleanup() { rm -rf "$work"; }
trap cleanup EXIT

# A DLRM with the default stacks (bottom 256-64-16, top 512-256-1, dot), 26 tables of 10,001 x 16.
"$crank" -q gen --rows 20000 --seed 1 --out "$work/train.tsv"
"$crank" -q gen --rows 1000 --seed 2 --unlabelled --out "$work/rows.tsv"
"$crank" -q train --train "$work/train.tsv" --model-out "$work/m.crank" --hash-buckets 10000 \
  --batch-size 512 --threads "$threads"

for n in 1 100; do
  python3 -c '
import json, sys
n = int(sys.argv[1])
rows = open(sys.argv[2]).read().splitlines()[:n]
print(json.dumps({"inputs": [{"name": "rows", "datatype": "BYTES", "shape": [n], "data": rows}]}))
' "$n" "$work/rows.tsv" >"$work/body$n.json"
  printf 'wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\nlocal f = io.open("%s")\nwrk.body = f:read("*a")\nf:close()\n' \
    "$work/body$n.json" >"$work/post$n.lua"
done

python3 "$(dirname "$0")/serve_bench.py" "$crank" "$work" "$seconds" "$repeats" "$threads"
echo
echo "in process (bench/serve_predict.cc, $threads threads, each with its own workspace):"
for n in 1 100; do
  "$build/bin/serve_predict" "$work/m.crank" "$work/rows.tsv" "$n" 3 "$threads"
done
