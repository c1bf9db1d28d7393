#!/usr/bin/env bash
# The benchmark suite (make bench): machine limits, kernel micro-benchmarks, end-to-end crank
# throughput for every configuration / batch / thread count next to the PyTorch peer
# (../shared/peer/torch_ranking.py) on the same synthetic data shape, the streaming-reader
# overhead and peak memory; then a table of medians (bench/summarize.py).
#
# usage: bench/run.sh [BUILD_DIR]          (BUILD_DIR defaults to build; binaries in BUILD_DIR/bin)
# Environment knobs (defaults in brackets):
#   REPEATS [3]            runs of each throughput measurement; the table shows medians
#   MIN_SECONDS [2]        timed seconds per crank measurement (after warm-up)
#   CONFIGS ["criteo-dlrm tfrs-default dcn"]  BATCHES ["128 2048"]  THREADS ["1 2"]
#   PEER [1]               0 skips the PyTorch peer
#   READER_ROWS [50000]    rows of the generated Criteo file for the reader measurement
#   MICRO_MIN_TIME [0.1]   --benchmark_min_time of the micro-benchmarks
#   OUT [BUILD_DIR/bench-results]  where the raw results go (results.jsonl, *.json, summary.md)
#   OMP_WAIT [auto]        how idle OpenMP threads wait, the same for both engines:
#                          auto     crank's own choice at the moment of each measurement pair
#                                   (`train_throughput --runtime-env`: spin 1000 rounds when
#                                   the machine is idle, passive when it is busy)
#                          spin     GOMP_SPINCOUNT=1000;  passive  OMP_WAIT_POLICY=passive
#                          default  neither set: libgomp's default (spin ~300000 rounds)
# OpenMP: both engines use libgomp. How its idle threads wait decides much of the speed at small
# batches (many short parallel regions per step) and, on a shared machine, whether 2-thread runs
# collapse (spinning workers take the core the others need). Each measurement pair runs both
# engines with the same setting; the suite adds one criteo-dlrm 2-thread run with libgomp's
# default policy to keep that effect visible.
# QUICK=1 sets REPEATS=1 MIN_SECONDS=1 READER_ROWS=20000 and smaller peer runs (a smoke run).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(git -C "$here" rev-parse --show-toplevel 2>/dev/null || (cd "$here/.." && pwd))
build=${1:-build}
[[ $build = /* ]] || build=$PWD/$build
bin=$build/bin
peer=$root/../shared/peer/torch_ranking.py

if [[ ${QUICK:-0} = 1 ]]; then
  : "${REPEATS:=1}" "${MIN_SECONDS:=1}" "${READER_ROWS:=20000}" "${PEER_SECONDS:=1.5}"
fi
REPEATS=${REPEATS:-3}
MIN_SECONDS=${MIN_SECONDS:-2}
CONFIGS=${CONFIGS:-criteo-dlrm tfrs-default dcn}
BATCHES=${BATCHES:-128 2048}
THREADS=${THREADS:-1 2}
PEER=${PEER:-1}
READER_ROWS=${READER_ROWS:-50000}
MICRO_MIN_TIME=${MICRO_MIN_TIME:-0.1}
PEER_SECONDS=${PEER_SECONDS:-3}  # peer training seconds per run (rows are sized to it)
PEER_TIMEOUT=${PEER_TIMEOUT:-180}  # a peer run taking longer is abandoned
OUT=${OUT:-$build/bench-results}
OMP_WAIT=${OMP_WAIT:-auto}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT CRANK_RUNTIME_ENV
# The OpenMP settings for the next measurement pair, as NAME=VALUE words for env(1). crank's
# CRANK_RUNTIME_ENV marker keeps it from choosing again; the peer ignores it.
wait_label() {  # "GOMP_SPINCOUNT=1000" from omp_env's words; "default" for none
  local w
  w=$(echo "$1" | tr ' ' '\n' | grep -E '^(OMP_WAIT_POLICY|GOMP_SPINCOUNT)=' | tr '\n' ' ' | sed 's/ $//')
  echo "${w:-default}"
}
omp_env() {
  case $OMP_WAIT in
    auto) "$bin/train_throughput" --runtime-env | grep -E '^(OMP_WAIT_POLICY|GOMP_SPINCOUNT|CRANK_RUNTIME_ENV)=' | tr '\n' ' ' ;;
    spin) echo "GOMP_SPINCOUNT=1000 CRANK_RUNTIME_ENV=user" ;;
    passive) echo "OMP_WAIT_POLICY=passive CRANK_RUNTIME_ENV=user" ;;
    default) echo "CRANK_RUNTIME_ENV=user" ;;
    *) echo "run.sh: OMP_WAIT must be auto, spin, passive or default" >&2; exit 2 ;;
  esac
}

for b in machine_limits micro_kernels train_throughput; do
  [[ -x $bin/$b ]] || { echo "run.sh: $bin/$b not found; build with -DCRANK_BUILD_BENCH=ON" >&2; exit 1; }
done
if [[ $PEER = 1 ]] && ! { [[ -f $peer ]] && /usr/bin/python3 -c 'import torch, numpy' 2>/dev/null; }; then
  echo "run.sh: PyTorch peer unavailable ($peer, python3-torch, python3-numpy); running crank only" >&2
  PEER=0
fi
mkdir -p "$OUT"
results=$OUT/results.jsonl
: >"$results"
started=$(date +%s)
log() { echo "[bench $(($(date +%s) - started))s] $*" >&2; }

# Adds run context (repeat index, 1-minute load average) to each JSON line read on stdin.
annotate() {
  /usr/bin/python3 -c '
import json, os, sys
extra = json.loads(sys.argv[1])
with open("/proc/loadavg") as f:
    extra["load1"] = float(f.read().split()[0])
for line in sys.stdin:
    line = line.strip()
    if line.startswith("{"):
        d = json.loads(line); d.update(extra); print(json.dumps(d), flush=True)
' "$1"
}

# ---- 1. machine limits ----------------------------------------------------------------------
log "machine limits"
env $(omp_env) "$bin/machine_limits" --threads="$(echo "$THREADS" | tr ' ' ',')" | tee "$OUT/machine_limits.json" >&2
peak() {  # GEMM peak GFLOP/s for $1 threads
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gemm_peak_gflops"].get(sys.argv[2], 0))' \
    "$OUT/machine_limits.json" "$1"
}

# ---- 2. micro-benchmarks --------------------------------------------------------------------
for t in $THREADS; do
  log "micro-benchmarks, $t thread(s)"
  env $(omp_env) "$bin/micro_kernels" --crank_threads="$t" --benchmark_min_time="$MICRO_MIN_TIME" \
    --benchmark_out="$OUT/micro_t$t.json" --benchmark_out_format=json >&2
done

# ---- 3. end-to-end throughput, crank and the peer interleaved --------------------------------
peer_args() {  # the peer's flags for configuration $1
  case $1 in
    criteo-dlrm) echo "--bottom 512,256,64,16 --top 512,256,1 --interaction dot" ;;
    tfrs-default) echo "--bottom 256,64,16 --top 512,256,1 --interaction dot" ;;
    dcn) echo "--bottom 256,64,16 --top 512,256,1 --interaction cross" ;;
    *) echo "run.sh: no peer flags for $1" >&2; return 1 ;;
  esac
}
# Peer rows: about PEER_SECONDS of training at the rate the previous peer run of the same
# configuration measured (the first time: crank's rate just measured), whole batches.
declare -A peer_rate
peer_rows() {  # config batch threads crank_rate
  local rate=${peer_rate["$1/$2/$3"]:-${4:-8000}}
  /usr/bin/python3 -c 'import sys; r, s, b = float(sys.argv[1]), float(sys.argv[2]), int(sys.argv[3]); print(max(4, int(r * s / b)) * b)' \
    "$rate" "$PEER_SECONDS" "$2"
}

for rep in $(seq 1 "$REPEATS"); do
  for cfg in $CONFIGS; do
    for t in $THREADS; do
      gp=$(peak "$t")
      for b in $BATCHES; do
        modes=train
        [[ $b = 2048 ]] && modes=train,infer,latency
        wait_env=$(omp_env)
        log "rep $rep/$REPEATS: crank $cfg batch $b threads $t ($modes; $wait_env)"
        # shellcheck disable=SC2086
        lines=$(env $wait_env "$bin/train_throughput" --config="$cfg" --batch="$b" --threads="$t" \
                  --modes="$modes" --min-seconds="$MIN_SECONDS" --gemm-peak="$gp") ||
          log "crank run failed"
        echo "$lines" | annotate "{\"rep\": $rep, \"omp_wait_policy\": \"$(wait_label "$wait_env")\"}" | tee -a "$results" >&2
        crank_rate=$(echo "$lines" | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{") and json.loads(line)["benchmark"] == "train":
        print(json.loads(line)["examples_per_sec"])')
        if [[ $PEER = 1 ]]; then
          rows=$(peer_rows "$cfg" "$b" "$t" "$crank_rate")
          log "rep $rep/$REPEATS: torch $cfg batch $b threads $t ($rows rows)"
          # shellcheck disable=SC2046
          # shellcheck disable=SC2086
          line=$(env $wait_env timeout "$PEER_TIMEOUT" /usr/bin/python3 "$peer" --synthetic-rows "$rows" --batch-size "$b" --threads "$t" \
                   $(peer_args "$cfg") | tail -n 1) || { log "peer failed"; continue; }
          echo "$line" | annotate "{\"benchmark\": \"peer\", \"engine\": \"torch\", \"config\": \"$cfg\", \"batch\": $b, \"threads\": $t, \"rep\": $rep, \"rows\": $rows, \"omp_wait_policy\": \"$(wait_label "$wait_env")\"}" |
            tee -a "$results" >&2
          peer_rate["$cfg/$b/$t"]=$(echo "$line" | /usr/bin/python3 -c 'import json,sys; print(json.load(sys.stdin)["train_examples_per_sec"])')
        fi
      done
    done
  done
done

# ---- 4. the streaming reader vs in memory, and peak memory -------------------------------------
for t in $THREADS; do
  for b in $BATCHES; do
    log "reader + memory: criteo-dlrm batch $b threads $t ($READER_ROWS rows)"
    "$bin/train_throughput" --config=criteo-dlrm --batch="$b" --threads="$t" --modes=reader,memory \
      --reader-rows="$READER_ROWS" | annotate '{"rep": 1}' | tee -a "$results" >&2 ||
      log "reader run failed"
  done
done
log "memory with Adagrad on the embeddings (optimizer state = one accumulator per weight)"
"$bin/train_throughput" --config=criteo-dlrm --batch=2048 --threads=1 --modes=reader,memory \
  --reader-rows=$((READER_ROWS / 5)) --emb-opt=adagrad --emb-lr=0.05 |
  annotate '{"rep": 1, "variant": "adagrad"}' | tee -a "$results" >&2 || log "adagrad run failed"

# ---- 5. two threads with libgomp's default wait policy (threads spin before sleeping) -------
if [[ " $THREADS " = *" 2 "* && $OMP_WAIT != default ]]; then
  for b in $BATCHES; do
    log "criteo-dlrm batch $b, 2 threads, OMP_WAIT_POLICY and GOMP_SPINCOUNT unset (libgomp default)"
    CRANK_RUNTIME_ENV=user "$bin/train_throughput" --config=criteo-dlrm --batch="$b" --threads=2 \
      --modes=train --min-seconds="$MIN_SECONDS" --gemm-peak="$(peak 2)" |
      annotate '{"rep": 1, "variant": "omp-default", "omp_wait_policy": "default"}' |
      tee -a "$results" >&2 || log "run failed"
  done
fi

# ---- 6. the table ---------------------------------------------------------------------------
log "done in $(($(date +%s) - started)) s; raw results in $OUT"
/usr/bin/python3 "$here/summarize.py" "$OUT" | tee "$OUT/summary.md"
