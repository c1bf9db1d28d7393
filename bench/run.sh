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
#   OMP_WAIT_POLICY [passive]  for both engines; "default" leaves it unset (libgomp spins)
# OpenMP: both engines use libgomp, whose idle threads spin before they sleep. On a machine
# shared with other work, spinning threads starve each other and 2-thread runs collapse (4-35x
# on the reference machine), so the suite runs both engines with passive waiting, and adds one
# criteo-dlrm 2-thread run with libgomp's default policy to keep that effect visible.
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
if [[ ${OMP_WAIT_POLICY:-passive} = default ]]; then
  unset OMP_WAIT_POLICY
else
  export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}
fi

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
extra.setdefault("omp_wait_policy", os.environ.get("OMP_WAIT_POLICY", "default"))
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
"$bin/machine_limits" --threads="$(echo "$THREADS" | tr ' ' ',')" | tee "$OUT/machine_limits.json" >&2
peak() {  # GEMM peak GFLOP/s for $1 threads
  /usr/bin/python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["gemm_peak_gflops"].get(sys.argv[2], 0))' \
    "$OUT/machine_limits.json" "$1"
}

# ---- 2. micro-benchmarks --------------------------------------------------------------------
for t in $THREADS; do
  log "micro-benchmarks, $t thread(s)"
  "$bin/micro_kernels" --crank_threads="$t" --benchmark_min_time="$MICRO_MIN_TIME" \
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
        log "rep $rep/$REPEATS: crank $cfg batch $b threads $t ($modes)"
        lines=$("$bin/train_throughput" --config="$cfg" --batch="$b" --threads="$t" \
                  --modes="$modes" --min-seconds="$MIN_SECONDS" --gemm-peak="$gp") ||
          log "crank run failed"
        echo "$lines" | annotate "{\"rep\": $rep}" | tee -a "$results" >&2
        crank_rate=$(echo "$lines" | /usr/bin/python3 -c '
import json, sys
for line in sys.stdin:
    if line.startswith("{") and json.loads(line)["benchmark"] == "train":
        print(json.loads(line)["examples_per_sec"])')
        if [[ $PEER = 1 ]]; then
          rows=$(peer_rows "$cfg" "$b" "$t" "$crank_rate")
          log "rep $rep/$REPEATS: torch $cfg batch $b threads $t ($rows rows)"
          # shellcheck disable=SC2046
          line=$(timeout "$PEER_TIMEOUT" /usr/bin/python3 "$peer" --synthetic-rows "$rows" --batch-size "$b" --threads "$t" \
                   $(peer_args "$cfg") | tail -n 1) || { log "peer failed"; continue; }
          echo "$line" | annotate "{\"benchmark\": \"peer\", \"engine\": \"torch\", \"config\": \"$cfg\", \"batch\": $b, \"threads\": $t, \"rep\": $rep, \"rows\": $rows}" |
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
if [[ " $THREADS " = *" 2 "* && -n ${OMP_WAIT_POLICY:-} ]]; then
  for b in $BATCHES; do
    log "criteo-dlrm batch $b, 2 threads, OMP_WAIT_POLICY unset (libgomp default)"
    env -u OMP_WAIT_POLICY "$bin/train_throughput" --config=criteo-dlrm --batch="$b" --threads=2 \
      --modes=train --min-seconds="$MIN_SECONDS" --gemm-peak="$(peak 2)" |
      annotate '{"rep": 1, "variant": "omp-default", "omp_wait_policy": "default"}' |
      tee -a "$results" >&2 || log "run failed"
  done
fi

# ---- 6. the table ---------------------------------------------------------------------------
log "done in $(($(date +%s) - started)) s; raw results in $OUT"
/usr/bin/python3 "$here/summarize.py" "$OUT" | tee "$OUT/summary.md"
