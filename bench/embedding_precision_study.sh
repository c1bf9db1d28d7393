#!/usr/bin/env bash
# Accuracy of embedding tables stored in 16 bits against fp32 (docs/performance.md, "16-bit
# tables"): crank's defaults trained one epoch with `--embedding-precision fp32`, `bf16` and
# `fp16`, same seed, on several data families; eval AUC per run and the mean paired difference
# (16-bit - fp32) +- its standard error.
#
#   bench/embedding_precision_study.sh [WORKDIR]   # default WORKDIR: /tmp/crank_emb16_study
#
# Families (FAMILIES), as bench/bf16_study.sh:
#   t1         `crank gen --teacher-seed 1` (the project's click model)
#   zipf       `crank gen --teacher-seed 3 --zipf-exponent 0.8 --max-cardinality 1000000`: heavy
#              tail, most ids of the large fields seen once
#   movielens  ml-latest-small ratings as clicks (bench/movielens_to_criteo.py; needs
#              $MOVIELENS, skipped with a note when absent)
# Synthetic families train on TRAIN_ROWS rows (--seed 1) and evaluate on EVAL_ROWS (--seed 2).
# Every (family, seed in SEEDS) trains once per precision in PRECISIONS at batch BATCH with
# THREADS threads and GEMM precision GEMM (the same for all runs, so only the tables differ).
# Results are appended to WORKDIR/results.tsv (a stopped study resumes where it was); the table
# is printed at the end as Markdown. Training is deterministic, so a loaded machine changes the
# seconds column only.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/crank_emb16_study}
CRANK=${CRANK:-$here/build/bin/crank}
PYTHON=${PYTHON:-/usr/bin/python3}
MOVIELENS=${MOVIELENS:-$here/../shared/data/movielens-latest-small}
FAMILIES=${FAMILIES:-t1 zipf movielens}
PRECISIONS=${PRECISIONS:-fp32 bf16 fp16}
BATCH=${BATCH:-512}
SEEDS=${SEEDS:-1 2 3 4 5 6}
TRAIN_ROWS=${TRAIN_ROWS:-100000}
EVAL_ROWS=${EVAL_ROWS:-20000}
THREADS=${THREADS:-1}
GEMM=${GEMM:-fp32}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[[ -x $CRANK ]] || { echo "no crank binary at $CRANK (build crank_cli, or set CRANK)" >&2; exit 1; }
mkdir -p "$WORK/data" "$WORK/runs"
results=$WORK/results.tsv
[[ -f $results ]] || printf 'family\tbatch\tseed\tprecision\tauc\tlogloss\tseconds\n' >"$results"

# make_family FAMILY ROWS (bench/study_families.sh).
source "$here/bench/study_families.sh"

run() {  # family seed precision
  local f=$1 s=$2 p=$3 tag t0 t1
  tag=$WORK/runs/${f}_${BATCH}_${s}_$p
  grep -qP "^$f\t$BATCH\t$s\t$p\t" "$results" && return 0
  t0=$(date +%s.%N)
  "$CRANK" -q train --train "$WORK/data/${f}_train.tsv" --eval "$WORK/data/${f}_eval.tsv" \
    --model-out "$tag.crank" --metrics-out "$tag.json" --threads "$THREADS" --seed "$s" \
    --batch-size "$BATCH" --precision "$GEMM" --embedding-precision "$p" 2>"$tag.log"
  t1=$(date +%s.%N)
  read -r auc ll < <("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["auc"], d["logloss"])' "$tag.json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$BATCH" "$s" "$p" "$auc" "$ll" "$(echo "$t1 - $t0" | bc)" >>"$results"
  rm -rf "$tag.crank" "$tag.crank.ckpt"  # the models are not kept
}

for f in $FAMILIES; do
  make_family "$f" "$TRAIN_ROWS" || continue
  echo "# $f, batch $BATCH" >&2
  for s in $SEEDS; do
    for p in $PRECISIONS; do run "$f" "$s" "$p"; done
  done
done

"$PYTHON" - "$results" <<'PY'
import collections, math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
runs = {(r[0], int(r[1]), int(r[2]), r[3]): (float(r[4]), float(r[5])) for r in rows}
groups = collections.OrderedDict()
for f, b, s, p in runs:
    groups.setdefault((f, b), set()).add(s)
print("\n| family | batch | tables | seeds | fp32 AUC (mean) | 16-bit - fp32 AUC (mean +- s.e.) | max abs | 16-bit - fp32 logloss | within 0.001 |")
print("|---|---:|---|---:|---:|---:|---:|---:|---|")
for (f, b), seeds in sorted(groups.items()):
    for p in ("bf16", "fp16"):
        paired = sorted(s for s in seeds if (f, b, s, "fp32") in runs and (f, b, s, p) in runs)
        if not paired:
            continue
        d = [runs[(f, b, s, p)][0] - runs[(f, b, s, "fp32")][0] for s in paired]
        dl = [runs[(f, b, s, p)][1] - runs[(f, b, s, "fp32")][1] for s in paired]
        n = len(d)
        mean = sum(d) / n
        se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
        fp = sum(runs[(f, b, s, "fp32")][0] for s in paired) / n
        print("| %s | %d | %s | %d | %.5f | %+.5f +- %.5f | %.5f | %+.5f | %s |" % (
            f, b, p, n, fp, mean, se, max(abs(x) for x in d), sum(dl) / n,
            "yes" if abs(mean) < 0.001 else "NO"))
PY
