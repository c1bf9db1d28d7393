#!/usr/bin/env bash
# The gain of `crank tune` over the defaults, over initialisation seeds (docs/tune.md, "The gain
# over initialisation seeds"). A search compares configurations at `train.seed` 0 and picks the
# best of many, so its own figure for the winner is biased upwards by the luck of that seed, and
# the defaults' trial 0 is one draw of theirs. This trains, for every family of a
# bench/tune_study.sh run, the defaults (`crank train` on the family's files) and the search's
# best.yaml at each of SEEDS (`--seed`), and prints per family the AUCs, their means, the gain at
# seed 0 and the mean gain over all seeds and over the seeds other than 0.
#
#   bench/tune_seeds.sh [WORKDIR]    # a finished bench/tune_study.sh WORKDIR (default
#                                    # /tmp/crank_tune_study)
# Environment: FAMILIES ["zipf nodense t1"], SEEDS ["0 1 2 3 4"], ROWS [200000] (as the study
# ran), PARALLEL [2] runs at a time,
# each with 1 thread; CRANK [build/bin/crank].
set -euo pipefail
here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/crank_tune_study}
CRANK=${CRANK:-$here/build/bin/crank}
FAMILIES=${FAMILIES:-zipf nodense t1}
SEEDS=${SEEDS:-0 1 2 3 4}
PARALLEL=${PARALLEL:-2}
ROWS=${ROWS:-200000}
[[ -x $CRANK ]] || { echo "tune_seeds.sh: no crank binary at $CRANK" >&2; exit 1; }
out=$WORK/seeds
mkdir -p "$out"
run() {  # family kind seed
  local f=$1 kind=$2 s=$3 base=$out/$1_$2_$3
  if [[ $kind == defaults ]]; then
    "$CRANK" -q train --train "$WORK/data/${f}_train_$ROWS.tsv" --eval "$WORK/data/${f}_eval.tsv" \
      --threads 1 --seed "$s" --model-out "$base.crank" --metrics-out "$base.json" 2>"$base.err"
  else
    "$CRANK" -q train --config "$WORK/$f/best.yaml" --threads 1 --seed "$s" \
      --model-out "$base.crank" --metrics-out "$base.json" 2>"$base.err"
  fi
  rm -f "$base.crank" "$base.crank.ckpt" "$base.crank.best"
}
export -f run
export CRANK WORK out ROWS
for f in $FAMILIES; do
  [[ -f $WORK/$f/best.yaml ]] || { echo "tune_seeds.sh: no $WORK/$f/best.yaml" >&2; exit 1; }
  for kind in defaults best; do for s in $SEEDS; do echo "$f $kind $s"; done; done
done | xargs -P "$PARALLEL" -n 3 bash -c 'run "$@"' _
/usr/bin/python3 - "$out" "$FAMILIES" "$SEEDS" <<'PY'
import json, statistics as st, sys
out, fams, seeds = sys.argv[1], sys.argv[2].split(), [int(s) for s in sys.argv[3].split()]
auc = lambda f, k, s: json.load(open(f"{out}/{f}_{k}_{s}.json"))["auc"]
print("| data | defaults, seeds " + " ".join(map(str, seeds)) + " | mean | best.yaml, same seeds | mean"
      " | gain at seed 0 | mean gain | mean gain without seed 0 |")
print("|---|---|---|---|---|---|---|---|")
for f in fams:
    d = [auc(f, "defaults", s) for s in seeds]
    b = [auc(f, "best", s) for s in seeds]
    g = [x - y for x, y in zip(b, d)]
    rest = [x for s, x in zip(seeds, g) if s != 0]
    print(f"| {f} | {' '.join('%.5f' % x for x in d)} | {st.mean(d):.5f} | "
          f"{' '.join('%.5f' % x for x in b)} | {st.mean(b):.5f} | "
          f"{g[seeds.index(0)]:+.4f} | {st.mean(g):+.4f} | "
          f"{st.mean(rest) if rest else float('nan'):+.4f} |")
PY
