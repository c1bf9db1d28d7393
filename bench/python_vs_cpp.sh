#!/usr/bin/env bash
# Python against C++ on the same work, in alternating pairs (docs/python.md, "Speed"):
#   fit:     crank.Ranking.fit vs `crank train` on the same generated file (the trainer's own
#            examples/s: time in training steps), default model, batch 512
#   predict: Ranking.predict on numpy dicts vs bench/train_throughput --modes=infer (C++
#            Ranking::Predict on in-memory batches), criteo-dlrm shape, batch 2048
# Usage: bench/python_vs_cpp.sh BUILD_DIR [PAIRS] [THREADS]
# BUILD_DIR needs bin/crank, bin/train_throughput (-DCRANK_BUILD_BENCH=ON) and python/crank.
# Python runs as after `pip install`: from a site directory holding the package and its start-up
# hook (crank-startup.pth), which Python runs before python_speed.py imports numpy.
set -euo pipefail
build=$(cd "${1:?usage: $0 BUILD_DIR [PAIRS] [THREADS]}" && pwd)
pairs=${2:-5}
threads=${3:-2}
here=$(cd "$(dirname "$0")" && pwd)
py=/usr/bin/python3
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
site=$work/site-packages
mkdir "$site"
ln -s "$build/python/crank" "$site/crank"
cp "$here/../python/_crank_startup_hook.py" "$here/../python/crank-startup.pth" "$site/"
unset PYTHONPATH
pyrun() {  # python_speed.py ARGS... with $site as a site directory, as an installed package
  "$py" -c 'import runpy, site, sys; site.addsitedir(sys.argv[1]); sys.argv = sys.argv[2:];
runpy.run_path(sys.argv[0], run_name="__main__")' "$site" "$here/python_speed.py" "$@"
}
"$build/bin/crank" -q gen --rows 200000 --out "$work/train.tsv" --seed 1

summary() {  # name, then one ratio per line on stdin: the median and the count
  sort -g | awk -v name="$1" '{v[NR]=$1} END {m = (NR % 2) ? v[(NR+1)/2] : (v[NR/2]+v[NR/2+1])/2;
    printf "%s: median python/C++ %.3f over %d pairs (min %.3f, max %.3f)\n", name, m, NR, v[1], v[NR]}'
}
rate() { sed -n 's/.*"examples_per_sec": *\([0-9.]*\).*/\1/p' | head -1; }

fit_ratios=() predict_ratios=()
for i in $(seq "$pairs"); do
  "$build/bin/crank" -q train --train "$work/train.tsv" --model-out "$work/cli.crank" \
      --hash-buckets 100000 --threads "$threads" --seed 1 --metrics-out "$work/cli.json"
  cli=$(tr -d ' \n' < "$work/cli.json" | sed -n 's/.*"train_examples_per_sec":\([0-9.]*\).*/\1/p')
  pyfit=$(pyrun fit --train "$work/train.tsv" --threads "$threads" | rate)
  echo "pair $i fit: cli $cli python $pyfit ex/s"
  fit_ratios+=("$(awk -v a="$pyfit" -v b="$cli" 'BEGIN {print a / b}')")
  cpp=$("$build/bin/train_throughput" --config=criteo-dlrm --batch=2048 --threads="$threads" \
      --modes=infer | rate)
  pypred=$(pyrun infer --threads "$threads" | rate)
  echo "pair $i predict: C++ $cpp python $pypred ex/s"
  predict_ratios+=("$(awk -v a="$pypred" -v b="$cpp" 'BEGIN {print a / b}')")
done
printf '%s\n' "${fit_ratios[@]}" | summary "fit (batch 512)"
printf '%s\n' "${predict_ratios[@]}" | summary "predict (batch 2048)"
