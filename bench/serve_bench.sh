#!/usr/bin/env bash
# The serving table of docs/serving.md: `crank serve` under Debian's wrk on 127.0.0.1, 1-row
# requests at 1, 8 and 64 connections and 100-row requests at 1 and 8, with dynamic batching
# (--max-batch 512 --max-queue-delay-us 500) and without (--max-batch 0), then in-process
# Predict and the server's steps without HTTP at the same batch sizes (bench/serve_predict.cc).
#
#   bench/serve_bench.sh BUILD_DIR [SECONDS] [THREADS]
#
# BUILD_DIR needs bin/crank and bin/serve_predict (configure with -DCRANK_BUILD_BENCH=ON and
# build the targets crank_cli and serve_predict). Each wrk run lasts SECONDS (default 5) with a
# 5 s request timeout; the server runs THREADS inference workers (default 2). Works in a
# temporary folder and removes it.
set -euo pipefail
build=$(cd "$1" && pwd)
seconds=${2:-5}
threads=${3:-2}
crank=$build/bin/crank
work=$(mktemp -d)
server=
cleanup() {
  if [ -n "$server" ]; then kill -TERM "$server" 2>/dev/null || true; wait "$server" 2>/dev/null || true; fi
  rm -rf "$work"
}
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

start_server() {  # start_server FLAGS...
  "$crank" serve --model "$work/m.crank" --port 0 --threads "$threads" "$@" 2>"$work/serve.log" &
  server=$!
  for _ in $(seq 500); do
    port=$(grep -o 'http://127.0.0.1:[0-9]*' "$work/serve.log" | sed 's/.*://' || true)
    [ -n "$port" ] && return 0
    sleep 0.02
  done
  echo "the server did not start:" >&2
  cat "$work/serve.log" >&2
  exit 1
}
stop_server() {
  kill -TERM "$server"
  wait "$server" || true
  server=
}

summarize='
import re, sys
mode, n, c = sys.argv[1], int(sys.argv[2]), sys.argv[3]
out = sys.stdin.read()
def ms(label):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v
rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
print("| %s | %d | %s | %.3f | %.3f | %.0f | %.0f | %s |" % (
    mode, n, c, ms("50%"), ms("99%"), rps, rps * n, bad.group(1) if bad else "0"))
'
echo "| batching | rows/request | connections | p50 ms | p99 ms | requests/s | rows/s | non-2xx |"
echo "|---|---:|---:|---:|---:|---:|---:|---:|"
for mode in on off; do
  if [ $mode = on ]; then flags=(--max-batch 512 --max-queue-delay-us 500); else flags=(--max-batch 0); fi
  start_server "${flags[@]}"
  for spec in "1 1" "1 8" "1 64" "100 1" "100 8"; do
    read -r n c <<<"$spec"
    t=$((c < 2 ? 1 : 2))
    wrk -t"$t" -c"$c" -d"${seconds}s" --timeout 5s --latency -s "$work/post$n.lua" \
      "http://127.0.0.1:$port/v2/models/m/infer" | python3 -c "$summarize" "$mode" "$n" "$c"
  done
  stop_server
done
echo
echo "in process (serve_predict, $threads threads, each with its own workspace):"
for n in 1 100; do
  "$build/bin/serve_predict" "$work/m.crank" "$work/rows.tsv" "$n" 3 "$threads"
done
