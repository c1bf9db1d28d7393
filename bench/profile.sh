#!/usr/bin/env bash
# Where a training step spends its time: samples train_throughput with `perf record` after the
# model is built (setup excluded) and prints the share of each block (GEMM, activations,
# embeddings, optimizer, ...) and the top symbols. Not part of `make bench`; needs perf
# (Debian linux-perf) and kernel.perf_event_paranoid <= 2.
#
# usage: bench/profile.sh [BUILD_DIR] [CONFIG] [BATCH] [THREADS] [SECONDS]
#        defaults: build criteo-dlrm 2048 1 6
# DELAY_MS (4000): when sampling starts; on a loaded machine the setup takes longer, so raise it
# (and SECONDS) until the top symbols show no data generation (__sincos, Generate*).
set -euo pipefail

build=${1:-build}
cfg=${2:-criteo-dlrm}
batch=${3:-2048}
threads=${4:-1}
seconds=${5:-6}
command -v perf >/dev/null || { echo "profile.sh: perf not found (apt-get install linux-perf)" >&2; exit 1; }
data=$(mktemp /tmp/crank-profile.XXXXXX)
trap 'rm -f "$data" "$data.old"' EXIT

# -D: start sampling once the model and data are built (the setup takes 2-3 s on an idle
# machine). --gemm-peak: a given value skips the sgemm 2048^3 peak measurement at start.
perf record -q -D "${DELAY_MS:-4000}" -F 1999 -o "$data" "$build/bin/train_throughput" \
  --config="$cfg" --batch="$batch" --threads="$threads" --modes=train --min-seconds="$seconds" \
  --gemm-peak=100 >&2
perf report -i "$data" --no-children --stdio --sort dso,symbol --percent-limit 0 2>/dev/null |
  /usr/bin/python3 -c '
import re, sys
groups = [
    ("GEMM (OpenBLAS sgemm)", r"sgemm|openblas"),
    ("GEMM (oneDNN: libdnnl + its JIT code)", r"dnnl|\[JIT\]|tid \d+"),
    ("activation backward", r"ActivationBackward"),
    ("bias + activation forward", r"BiasActivationForward|ActivationForward|BiasActivationRows"),
    ("bias gradient (column sums)", r"AccumulateColumnSums"),
    ("dot interaction", r"DotInteraction|DotWith"),
    ("cross interaction", r"Cross"),
    ("embedding lookup + backward", r"EmbeddingBag|ForwardImpl|BackwardImpl|GroupIds|EmbeddingCollection"),
    ("optimizer updates", r"Sgd|Adagrad|Adam|ForEachRow|ForEachBlock|Optimizer"),
    ("metrics + loss", r"Auc|Metric|Bce|Mse|Loss|Sigmoid"),
    ("memcpy / memset", r"__mem(move|cpy|set)"),
    ("OpenMP runtime", r"libgomp"),
    ("kernel (page faults, scheduling)", r"\[k\]|kernel"),
]
totals, top = {}, []
for line in sys.stdin:
    m = re.match(r"\s+([\d.]+)%\s+(\S+)\s+(.*)$", line)
    if not m:
        continue
    pct, dso, sym = float(m.group(1)), m.group(2), m.group(3).strip()
    text = dso + " " + sym
    name = next((g for g, rx in groups if re.search(rx, text)), "other")
    totals[name] = totals.get(name, 0.0) + pct
    top.append((pct, sym[:110].rstrip()))
print("share of samples by block:")
for name, pct in sorted(totals.items(), key=lambda kv: -kv[1]):
    print(f"  {pct:6.2f}%  {name}")
print("top symbols:")
for pct, sym in sorted(top, reverse=True)[:15]:
    print(f"  {pct:6.2f}%  {sym}")
'
