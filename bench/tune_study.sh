#!/usr/bin/env bash
# `crank tune` against crank's defaults on the 200k-row sets of the defaults study
# (docs/tune.md, "Measurement").
#
#   bench/tune_study.sh [WORKDIR]        # default WORKDIR: /tmp/crank_tune_study
#
# Per family (FAMILIES, default "zipf nodense t1"; bench/study_families.sh makes them):
# <family>_train_200000.tsv (200,000 rows) and <family>_eval.tsv (EVAL_ROWS rows), then
#   crank tune --train <f>_train_200000.tsv --eval <f>_eval.tsv --budget $BUDGET --out best.yaml \
#     --threads $THREADS --seed $SEED --trials-out trials.tsv $TUNE_FLAGS
# (TUNE_FLAGS=--no-portfolio: the draws alone; TUNE_FLAGS="--refine-share 0": no refinement)
# (ROWS: training rows per family, default 200000; use a WORKDIR of its own per ROWS)
# PARALLEL searches at a time (default 2), then `crank train --config best.yaml` of each, which
# must give the best trial's AUC. Prints one Markdown row per family: trial 0 (the defaults),
# the trials by rung, the best trial, its gain, the confirmed AUC, and `uptime` at the start of
# each search.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/crank_tune_study}
CRANK=${CRANK:-$here/build/bin/crank}
PYTHON=${PYTHON:-/usr/bin/python3}
MOVIELENS=${MOVIELENS:-$here/../shared/data/movielens-latest-small}
FAMILIES=${FAMILIES:-zipf nodense t1}
BUDGET=${BUDGET:-10m}
SEED=${SEED:-1}
THREADS=${THREADS:-1}
PARALLEL=${PARALLEL:-2}
TUNE_FLAGS=${TUNE_FLAGS:-}
EVAL_ROWS=${EVAL_ROWS:-20000}
ROWS=${ROWS:-200000}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[[ -x $CRANK ]] || { echo "no crank binary at $CRANK (build crank_cli, or set CRANK)" >&2; exit 1; }
mkdir -p "$WORK/data"
# make_family FAMILY ROWS (bench/study_families.sh).
source "$here/bench/study_families.sh"

search() {  # family
  local f=$1 d=$WORK/$1
  mkdir -p "$d"
  uptime >"$d/uptime.txt"
  # shellcheck disable=SC2086
  "$CRANK" -q tune --train "$WORK/data/${f}_train_$ROWS.tsv" --eval "$WORK/data/${f}_eval.tsv" \
    --budget "$BUDGET" --out "$d/best.yaml" --threads "$THREADS" --seed "$SEED" \
    --trials-out "$d/trials.tsv" $TUNE_FLAGS >"$d/tune.out" 2>"$d/tune.err"
  "$CRANK" -q train --config "$d/best.yaml" --model-out "$d/best.crank" \
    --metrics-out "$d/best.json" 2>"$d/train.err"
  rm -f "$d/best.crank" "$d/best.crank.ckpt" "$d/best.crank.best"
}

for f in $FAMILIES; do
  make_family "$f" "$ROWS"
  ln -sf "${f}_train.tsv" "$WORK/data/${f}_train_$ROWS.tsv"  # make_family wrote $ROWS rows
done
running=0
for f in $FAMILIES; do
  search "$f" &
  running=$((running + 1))
  if ((running >= PARALLEL)); then wait -n; running=$((running - 1)); fi
done
wait

echo "| data | defaults (trial 0) AUC | trials | best trial | gain | crank train --config best.yaml | load at start |"
echo "|---|---|---|---|---|---|---|"
for f in $FAMILIES; do
  "$PYTHON" - "$f" "$WORK/$f" <<'PY'
import collections, json, sys
f, d = sys.argv[1], sys.argv[2]
rows = [l.rstrip("\n").split("\t") for l in open(d + "/trials.tsv")]
head, rows = rows[0], rows[1:]
col = {n: i for i, n in enumerate(head)}
ok = [r for r in rows if r[col["status"]] == "ok"]
base = float(rows[0][col["auc"]])
full = [r for r in ok if float(r[col["fraction"]]) == 1.0]
best = max(full, key=lambda r: float(r[col["auc"]]))
by = collections.Counter("%.3g" % float(r[col["fraction"]]) for r in rows)
seconds = sum(float(r[col["seconds"]]) for r in rows)
refined = [r for r in rows if r[col["parent"]] != "-"]
desc = "%d in %.0f s (%s; %d of them refining)" % (
    len(rows), seconds, ", ".join("%d at %s" % (n, k) for k, n in sorted(by.items())), len(refined))
catch_up = best[col["catch_up"]] if "catch_up" in col else "-"
params = "elr %s, dlr %s, l2 %s%s, dim %s, min_count %s, %s, %s epochs%s" % (
    best[col["elr"]], best[col["dlr"]], best[col["l2"]],
    "" if catch_up == "-" else " catch-up " + catch_up, best[col["dim"]], best[col["min_count"]],
    best[col["interaction"]], best[col["epochs"]],
    "" if best[col["parent"]] == "-" else ", a step from config " + best[col["parent"]])
confirmed = json.load(open(d + "/best.json"))["auc"]
load = open(d + "/uptime.txt").read().split("load average:")[1].strip()
print("| %s | %.5f | %s | trial %s (config %s: %s): %.5f | %+.5f | %.5f | %s |" % (
    f, base, desc, best[col["trial"]], best[col["config"]], params, float(best[col["auc"]]),
    float(best[col["auc"]]) - base, confirmed, load))
PY
done
