#!/usr/bin/env bash
# Paired speed comparison of two builds of crank on the same machine, in one run: for each
# configuration / batch / thread count, REPEATS back-to-back pairs of `train_throughput`
# (baseline build first, then the candidate, with the same OpenMP settings), and the median of
# the per-pair ratios candidate / baseline. Used to show that a change does not slow crank down
# (docs/performance.md, "Build against build").
#
# usage: bench/compare_builds.sh BASELINE_BIN_DIR CANDIDATE_BIN_DIR
#   (each holds a train_throughput built with -DCRANK_BUILD_BENCH=ON)
# Environment knobs (defaults in brackets):
#   REPEATS [5]  CONFIGS ["criteo-dlrm dcn"]  BATCHES ["128 2048"]  THREADS [2]
#   MODES [train,infer]  MIN_SECONDS [2]
set -euo pipefail
[[ $# = 2 ]] || { echo "usage: $0 BASELINE_BIN_DIR CANDIDATE_BIN_DIR" >&2; exit 2; }
base=$1/train_throughput
cand=$2/train_throughput
for b in "$base" "$cand"; do
  [[ -x $b ]] || { echo "compare_builds.sh: $b not found; build with -DCRANK_BUILD_BENCH=ON" >&2; exit 1; }
done
REPEATS=${REPEATS:-5}
CONFIGS=${CONFIGS:-criteo-dlrm dcn}
BATCHES=${BATCHES:-128 2048}
THREADS=${THREADS:-2}
MODES=${MODES:-train,infer}
MIN_SECONDS=${MIN_SECONDS:-2}
unset OMP_WAIT_POLICY GOMP_SPINCOUNT CRANK_RUNTIME_ENV
out=$(mktemp)
trap 'rm -f "$out"' EXIT

for cfg in $CONFIGS; do
  for bs in $BATCHES; do
    for t in $THREADS; do
      for ((r = 0; r < REPEATS; ++r)); do
        # Both builds of a pair wait the same way: the baseline's choice at this moment.
        wait_env=$("$base" --runtime-env | grep -E '^(OMP_WAIT_POLICY|GOMP_SPINCOUNT|CRANK_RUNTIME_ENV)=' | tr '\n' ' ')
        for which in base cand; do
          bin=$base; [[ $which = cand ]] && bin=$cand
          env $wait_env "$bin" --config="$cfg" --batch="$bs" --threads="$t" --modes="$MODES" \
            --min-seconds="$MIN_SECONDS" | grep '^{' |
            sed "s/^{/{\"build\": \"$which\", \"pair\": $r, /" >>"$out"
        done
        echo "[compare] $cfg batch $bs threads $t pair $((r + 1))/$REPEATS done" >&2
      done
    done
  done
done

/usr/bin/python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
key = lambda d: (d.get("config"), d.get("benchmark"), d.get("batch"), d.get("threads"))
groups = {}
for d in rows:
    if "examples_per_sec" not in d:
        continue
    groups.setdefault(key(d), {}).setdefault(d["pair"], {})[d["build"]] = d["examples_per_sec"]
print("| config | measurement | batch | threads | baseline ex/s | candidate ex/s | candidate/baseline (median of pairs) | pairs |")
print("|---|---|---:|---:|---:|---:|---:|---:|")
for k in sorted(groups, key=lambda k: tuple(str(x) for x in k)):
    pairs = [p for p in groups[k].values() if "base" in p and "cand" in p]
    if not pairs:
        continue
    b = statistics.median(p["base"] for p in pairs)
    c = statistics.median(p["cand"] for p in pairs)
    ratio = statistics.median(p["cand"] / p["base"] for p in pairs)
    lo = min(p["cand"] / p["base"] for p in pairs); hi = max(p["cand"] / p["base"] for p in pairs)
    print(f"| {k[0]} | {k[1]} | {k[2]} | {k[3]} | {b:,.0f} | {c:,.0f} | {ratio:.3f} ({lo:.2f}-{hi:.2f}) | {len(pairs)} |")
PY
