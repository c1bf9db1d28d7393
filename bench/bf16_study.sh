#!/usr/bin/env bash
# Accuracy of bf16 GEMMs against fp32 (docs/performance.md, "bf16 by default: the parity
# study"): crank's defaults (architecture, optimizers, learning rates) trained one epoch with
# `--precision fp32` and `--precision bf16`, same seed, on several data families and batch
# sizes; eval AUC per run and the mean paired difference (bf16 - fp32) +- its standard error.
#
#   bench/bf16_study.sh [WORKDIR]        # default WORKDIR: /tmp/crank_bf16_study
#
# Families (FAMILIES):
#   t1         `crank gen --teacher-seed 1` (the project's click model)
#   zipf       `crank gen --teacher-seed 3 --zipf-exponent 0.8 --max-cardinality 1000000`: heavy
#              tail, most ids of the large fields seen once
#   movielens  ml-latest-small ratings as clicks (rating >= 4), C1 = user, C2 = movie, no dense
#              features; rows shuffled with a fixed seed, every 10th row held out (needs
#              $MOVIELENS; skipped with a note when absent)
# Synthetic families train on TRAIN_ROWS rows (--seed 1) and evaluate on EVAL_ROWS (--seed 2).
# Every (family, batch in BATCHES, seed in SEEDS) trains twice, fp32 and bf16, with THREADS
# threads. Results are appended to WORKDIR/results.tsv (a stopped study resumes where it was);
# the table is printed at the end as Markdown. On a CPU without AVX512-BF16 both runs are fp32
# and the study says so.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/crank_bf16_study}
CRANK=${CRANK:-$here/build/bin/crank}
PYTHON=${PYTHON:-/usr/bin/python3}
MOVIELENS=${MOVIELENS:-$here/../shared/data/movielens-latest-small}
FAMILIES=${FAMILIES:-t1 zipf movielens}
BATCHES=${BATCHES:-128 512 2048 4096}
SEEDS=${SEEDS:-1 2 3 4 5 6}
TRAIN_ROWS=${TRAIN_ROWS:-100000}
EVAL_ROWS=${EVAL_ROWS:-20000}
THREADS=${THREADS:-1}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[[ -x $CRANK ]] || { echo "no crank binary at $CRANK (build crank_cli, or set CRANK)" >&2; exit 1; }
grep -q avx512_bf16 /proc/cpuinfo || echo "# this CPU has no AVX512-BF16: bf16 runs in fp32" >&2
mkdir -p "$WORK/data" "$WORK/runs"
results=$WORK/results.tsv
[[ -f $results ]] || printf 'family\tbatch\tseed\tprecision\tauc\tlogloss\tseconds\n' >"$results"

# make_family FAMILY ROWS (bench/study_families.sh).
source "$here/bench/study_families.sh"

run() {  # family batch seed precision
  local f=$1 b=$2 s=$3 p=$4 tag t0 t1
  tag=$WORK/runs/${f}_${b}_${s}_$p
  grep -qP "^$f\t$b\t$s\t$p\t" "$results" && return 0
  t0=$(date +%s.%N)
  "$CRANK" -q train --train "$WORK/data/${f}_train.tsv" --eval "$WORK/data/${f}_eval.tsv" \
    --model-out "$tag.crank" --metrics-out "$tag.json" --threads "$THREADS" --seed "$s" \
    --batch-size "$b" --precision "$p" --hash-buckets 100000 2>"$tag.log"
  t1=$(date +%s.%N)
  read -r auc ll < <("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["auc"], d["logloss"])' "$tag.json")
  printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$f" "$b" "$s" "$p" "$auc" "$ll" "$(echo "$t1 - $t0" | bc)" >>"$results"
  rm -rf "$tag.crank" "$tag.crank.ckpt"  # the models are not kept
}

for f in $FAMILIES; do
  make_family "$f" "$TRAIN_ROWS" || continue
  for b in $BATCHES; do
    echo "# $f, batch $b" >&2
    for s in $SEEDS; do
      run "$f" "$b" "$s" fp32
      run "$f" "$b" "$s" bf16
    done
  done
done

"$PYTHON" - "$results" <<'PY'
import collections, math, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
runs = {(r[0], int(r[1]), int(r[2]), r[3]): (float(r[4]), float(r[5])) for r in rows}
keys = collections.OrderedDict()
for f, b, s, p in runs:
    keys.setdefault((f, b), set()).add(s)
print("\n| family | batch | seeds | fp32 AUC (mean) | bf16 - fp32 AUC (mean +- s.e.) | max abs | bf16 - fp32 logloss | parity (abs mean < 0.001) |")
print("|---|---:|---:|---:|---:|---:|---:|---|")
for (f, b), seeds in sorted(keys.items(), key=lambda kv: (kv[0][0], kv[0][1])):
    paired = sorted(s for s in seeds if (f, b, s, "fp32") in runs and (f, b, s, "bf16") in runs)
    if not paired:
        continue
    d = [runs[(f, b, s, "bf16")][0] - runs[(f, b, s, "fp32")][0] for s in paired]
    dl = [runs[(f, b, s, "bf16")][1] - runs[(f, b, s, "fp32")][1] for s in paired]
    n = len(d)
    mean = sum(d) / n
    se = math.sqrt(sum((x - mean) ** 2 for x in d) / (n - 1) / n) if n > 1 else float("nan")
    fp = sum(runs[(f, b, s, "fp32")][0] for s in paired) / n
    print("| %s | %d | %d | %.5f | %+.5f +- %.5f | %.5f | %+.5f | %s |" % (
        f, b, n, fp, mean, se, max(abs(x) for x in d), sum(dl) / n, "yes" if abs(mean) < 0.001 else "NO"))
PY
