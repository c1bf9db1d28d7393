#!/usr/bin/env bash
# Speed and memory of embedding tables stored in 16 bits on the big-table configuration
# (docs/performance.md, "16-bit tables"): bench/train_throughput with 26 tables of BUCKETS + 1
# rows (dim 16, tfrs-default dense stack) trained with --embedding-precision fp32, bf16 and
# fp16 in turn, REPEATS times (interleaved: each repeat runs every precision once), for each id
# distribution in IDS. Each run is a fresh process, so its peak RSS (from /usr/bin/time) is that
# precision's memory. One JSON line per run on stdout (train_throughput's train line with
# "max_rss_kb" added); the summary (medians of the per-repeat ratios to fp32) goes to stderr.
#
# usage: bench/embedding_precision_speed.sh [BUILD_DIR]
# Environment (defaults in brackets): BUCKETS [1000000] (4000000 needs ~7 GB free for fp32)
#   IDS ["zipf uniform"]  PRECISIONS ["fp32 bf16 fp16"]  BATCH [2048]  THREADS [2]  REPEATS [3]
#   ROWS [65536]  MIN_SECONDS [3]  EMB_OPT [sgd]
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-$here/../build}
bin=$build/bin/train_throughput
BUCKETS=${BUCKETS:-1000000}
IDS=${IDS:-zipf uniform}
PRECISIONS=${PRECISIONS:-fp32 bf16 fp16}
BATCH=${BATCH:-2048}
THREADS=${THREADS:-2}
REPEATS=${REPEATS:-3}
ROWS=${ROWS:-65536}
MIN_SECONDS=${MIN_SECONDS:-3}
EMB_OPT=${EMB_OPT:-sgd}
[[ -x $bin ]] || { echo "$bin not found; build train_throughput with -DCRANK_BUILD_BENCH=ON" >&2; exit 1; }
out=$(mktemp)
trap 'rm -f "$out" "$out.rss"' EXIT

for rep in $(seq 1 "$REPEATS"); do
  for ids in $IDS; do
    for p in $PRECISIONS; do
      echo "# rep $rep: buckets $BUCKETS ids $ids tables $p (load $(cut -d' ' -f1 /proc/loadavg))" >&2
      line=$(/usr/bin/time -f '%M' -o "$out.rss" "$bin" --config=tfrs-default --batch="$BATCH" \
        --threads="$THREADS" --modes=train --min-seconds="$MIN_SECONDS" --rows="$ROWS" \
        --buckets="$BUCKETS" --ids="$ids" --emb-opt="$EMB_OPT" --gemm-peak=1 \
        --embedding-precision="$p" | grep '"benchmark": "train"')
      echo "${line%\}}, \"rep\": $rep, \"max_rss_kb\": $(tail -1 "$out.rss")}" | tee -a "$out"
    done
  done
done

/usr/bin/python3 - "$out" <<'PY' >&2
import json, statistics, sys
runs = [json.loads(l) for l in open(sys.argv[1])]
by = {(r["ids"], r["embedding_precision"], r["rep"]): r for r in runs}
print("| ids | tables | examples/s (median) | vs fp32 (median of per-repeat ratios) | peak RSS (median) | vs fp32 |")
print("|---|---|---:|---:|---:|---:|")
for ids in sorted({k[0] for k in by}):
    for p in ("fp32", "bf16", "fp16"):
        reps = sorted(k[2] for k in by if k[0] == ids and k[1] == p and (ids, "fp32", k[2]) in by)
        if not reps:
            continue
        eps = [by[(ids, p, r)]["examples_per_sec"] for r in reps]
        rss = [by[(ids, p, r)]["max_rss_kb"] / 1024 / 1024 for r in reps]
        ratio = [by[(ids, p, r)]["examples_per_sec"] / by[(ids, "fp32", r)]["examples_per_sec"] for r in reps]
        mem = [by[(ids, p, r)]["max_rss_kb"] / by[(ids, "fp32", r)]["max_rss_kb"] for r in reps]
        print("| %s | %s | %.0f | %.3fx | %.2f GiB | %.3fx |" % (
            ids, p, statistics.median(eps), statistics.median(ratio), statistics.median(rss),
            statistics.median(mem)))
PY
