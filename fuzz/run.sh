#!/usr/bin/env bash
# Runs every libFuzzer target of a fuzz build for a fixed time (`make fuzz` calls it).
#
#   fuzz/run.sh BUILD_DIR SECONDS [NAME...]
#
# BUILD_DIR is a CRANK_BUILD_FUZZ build (build-fuzz); its fuzz/fuzzers.txt lists the targets
# and their -max_len. Each target runs on BUILD_DIR/fuzz-corpus/<name>, a working copy seeded
# from fuzz/corpus/<name> (new inputs are written there, never into the source tree), with
# fuzz/regressions/<name> as a read-only extra corpus and fuzz/dict/<name>.dict when present.
# Findings go to BUILD_DIR/fuzz-artifacts/<name>/. Exits 1 if any target found a crash, a
# leak, a timeout (-timeout=10 s per input) or an out-of-memory (-rss_limit_mb=2048).
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 BUILD_DIR SECONDS [NAME...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd)
seconds=$2
shift 2
src=$(cd "$(dirname "$0")" && pwd)
manifest=$build/fuzz/fuzzers.txt
if [ ! -s "$manifest" ]; then
  echo "$manifest is missing or empty: configure with CRANK_BUILD_FUZZ=ON (make fuzz)" >&2
  exit 2
fi

export TMPDIR=$build/fuzz-tmp
mkdir -p "$TMPDIR"
# Leaks are bugs too. Short allocation stacks keep ASan's stack store from growing without
# bound on deeply recursive inputs (YAML), which would end long runs in the RSS limit.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:malloc_context_size=10}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-halt_on_error=1:print_stacktrace=1}

failed=()
while read -r name max_len; do
  [ -n "$name" ] || continue
  if [ $# -gt 0 ] && [[ " $* " != *" $name "* ]]; then continue; fi
  corpus=$build/fuzz-corpus/$name
  artifacts=$build/fuzz-artifacts/$name
  mkdir -p "$corpus" "$artifacts"
  cp -n "$src/corpus/$name"/* "$corpus"/ 2>/dev/null || true
  extra=()
  [ -d "$src/regressions/$name" ] && extra+=("$src/regressions/$name")
  dict=()
  [ -f "$src/dict/$name.dict" ] && dict+=("-dict=$src/dict/$name.dict")
  log=$build/fuzz-artifacts/$name.log
  echo "== $name: ${seconds}s, -max_len=$max_len, corpus $(ls "$corpus" | wc -l) files"
  "$build/bin/$name" "$corpus" "${extra[@]}" "${dict[@]}" \
    -max_total_time="$seconds" -max_len="$max_len" -rss_limit_mb=2048 -timeout=10 \
    -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1
  rc=$?
  grep -E '^#[0-9]+.*DONE|stat::number_of_executed_units|stat::peak_rss_mb' "$log" | sed 's/^/   /'
  if [ $rc -ne 0 ]; then
    echo "!! $name FAILED (exit $rc); log: $log; inputs: $artifacts/"
    grep -E 'ERROR: |SUMMARY: |fuzz invariant failed|uncaught exception|terminate called|what\(\)' \
      "$log" | head -5 | sed 's/^/   /'
    tail -3 "$log" | sed 's/^/   | /'
    failed+=("$name")
  fi
done <"$manifest"

if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzzing found problems in: ${failed[*]}"
  echo "minimise an input:  $build/bin/NAME -minimize_crash=1 -runs=10000 INPUT"
  echo "then add it to fuzz/regressions/NAME/ and fix the bug."
  exit 1
fi
echo "fuzzing: no findings"
