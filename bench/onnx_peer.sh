#!/usr/bin/env bash
# crank's own Predict against ONNX Runtime on the same model (docs/export.md, "Speed"): the
# criteo-dlrm shape of bench/train_throughput (26 tables of 100,001 x 16, bottom 512-256-64-16,
# top 512-256-1, dot) trained for one step, exported with `crank export`, and the rows of one
# `crank map` request body given to both engines (model-space inputs: no parsing or hashing is
# timed). For each repeat and each batch size the two engines run back to back (crank first on
# odd repeats, ONNX Runtime first on even ones), so each pair sees the same load; the table
# shows the medians and the median of the paired ratios.
#
# usage: bench/onnx_peer.sh [BUILD_DIR]   (needs BUILD_DIR/bin/{crank,predict_throughput}, built
#        with -DCRANK_BUILD_BENCH=ON, and BUILD_DIR/onnxruntime-node: make onnxruntime-node)
# Environment: REPEATS [5]  BATCHES ["1 128 2048"]  THREADS [1]  MIN_SECONDS [2]
#              ROWS [16384] rows mapped into the request   OUT [BUILD_DIR/onnx-peer]
#              PRECISION [fp32] crank's GEMM precision(s), e.g. "fp32 bf16". bf16 is what
#              `crank predict` runs for a model trained under the default auto at batch
#              512-4096 on an AVX512-BF16 CPU; ONNX Runtime computes in fp32 either way.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
build=${1:-build}
[[ $build = /* ]] || build=$PWD/$build
REPEATS=${REPEATS:-5}
BATCHES=${BATCHES:-"1 128 2048"}
THREADS=${THREADS:-1}
MIN_SECONDS=${MIN_SECONDS:-2}
ROWS=${ROWS:-16384}
PRECISION=${PRECISION:-fp32}
OUT=${OUT:-$build/onnx-peer}
crank=$build/bin/crank
export NODE_PATH=$build/onnxruntime-node/node_modules
for f in "$crank" "$build/bin/predict_throughput" "$NODE_PATH/onnxruntime-node/package.json"; do
  [[ -e $f ]] || { echo "onnx_peer.sh: missing $f (see the usage line)" >&2; exit 2; }
done
mkdir -p "$OUT"
cd "$OUT"
if [[ ! -f model.onnx ]]; then
  "$crank" gen -q --rows 20000 --seed 1 --out train.tsv
  "$crank" gen -q --rows "$ROWS" --seed 2 --out rows.tsv
  "$crank" train -q --train train.tsv --model-out model.crank --hash-buckets 100000 \
    --embedding-dim 16 --bottom 512,256,64,16 --top 512,256,1 --batch-size 2048 --max-steps 1
  "$crank" map -q --model model.crank --data rows.tsv --out request.json
  "$crank" export -q --model model.crank --out model.onnx
fi
results=results.jsonl
: > "$results"
for ((r = 1; r <= REPEATS; r++)); do
  for t in $THREADS; do
    for b in $BATCHES; do
      run_crank() {
        for p in $PRECISION; do
          "$build/bin/predict_throughput" --model=model.crank --request=request.json \
            --batch="$b" --threads="$t" --min-seconds="$MIN_SECONDS" --precision="$p" |
            sed "s/}\$/,\"repeat\":$r}/" >> "$results"
        done
      }
      run_ort() {
        node "$here/onnx_peer.js" model.onnx request.json "$b" "$t" "$MIN_SECONDS" |
          sed "s/}\$/,\"repeat\":$r}/" >> "$results"
      }
      if ((r % 2)); then run_crank; run_ort; else run_ort; run_crank; fi
    done
  done
done
python3 - "$results" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
keys = sorted({(r["threads"], r["batch"], p) for r in rows if r["engine"] == "crank"
               for p in [r["precision"]]})
print("| threads | batch | crank precision | crank rows/s | ONNX Runtime rows/s | crank / ONNX Runtime (median of %d pairs) |"
      % len({r["repeat"] for r in rows}))
print("|---:|---:|---|---:|---:|---:|")
for t, b, p in keys:
    sel = [r for r in rows if r["threads"] == t and r["batch"] == b]
    c = {r["repeat"]: r["rows_per_s"] for r in sel if r["engine"] == "crank" and r["precision"] == p}
    o = {r["repeat"]: r["rows_per_s"] for r in sel if r["engine"] == "onnxruntime"}
    ratios = [c[k] / o[k] for k in c if k in o]
    print(f"| {t} | {b} | {p} | {statistics.median(c.values()):,.0f} | {statistics.median(o.values()):,.0f} "
          f"| {statistics.median(ratios):.2f}x (range {min(ratios):.2f}-{max(ratios):.2f}) |")
PY
