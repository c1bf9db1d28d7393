#!/usr/bin/env bash
# crank's default hyperparameters against a small sweep of the PyTorch peer, on several data
# families (docs/defaults.md, "Defaults across data families"), and the frequency threshold
# (--min-count) against hashing (STUDY=vocab).
#
#   bench/defaults_study.sh [WORKDIR]        # default WORKDIR: /tmp/crank_defaults_study
#
# Families (FAMILIES):
#   t1, t7     `crank gen` with teacher seeds 1 and 7 (the project's click model)
#   zipf       `crank gen --zipf-exponent 0.8 --max-cardinality 1000000` (teacher 3): heavy
#              tail, most ids of the large fields seen once
#   nodense    `crank gen --no-dense` (teacher 5): I1..I13 empty, categorical signal only
#   movielens  ml-latest-small ratings as clicks (rating >= 4), C1 = user, C2 = movie, no dense
#              features; rows shuffled with a fixed seed, every 10th row held out (needs
#              $MOVIELENS; skipped with a note when absent)
# Each synthetic family trains on the first N rows (SIZES) of one file and evaluates on
# EVAL_ROWS rows of the same click model drawn with another seed.
#
# STUDY=defaults (the default): per family, size and epoch count (EPOCHS; the sizes in
#   EPOCHS3_SIZES, default 10000, also at 3 epochs; EPOCHS3_SIZES= for none): crank with its
#   defaults, crank with CRANK_SETTINGS (1 epoch only; default: hash_100k, the encoding of the
#   defaults before the encoding rule, for a before/after on the same build), and the peer with
#   PEER_SETTINGS (at 3 epochs only those in PEER_SETTINGS3). CRANK_SETTINGS=$'\n' and
#   PEER_SETTINGS=$'\n' run none.
# STUDY=vocab: crank with --hash-buckets 100000 / 10000 and --min-count 1 / 2 / 5 / 10, with
#   the embedding rows of each model (crank info).
#
# Every run uses THREADS threads and seed 0 (crank) / 1 (peer). Results are appended to
# WORKDIR/results.tsv (family, rows, epochs, system, setting, auc, logloss, rows_of_tables,
# seconds); the tables are printed at the end as Markdown.
set -euo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
WORK=${1:-/tmp/crank_defaults_study}
CRANK=${CRANK:-$here/build/bin/crank}
PYTHON=${PYTHON:-/usr/bin/python3}
PEER=${PEER:-$here/../shared/peer/torch_ranking.py}
MOVIELENS=${MOVIELENS:-$here/../shared/data/movielens-latest-small}
STUDY=${STUDY:-defaults}
FAMILIES=${FAMILIES:-t1 t7 zipf nodense movielens}
SIZES=${SIZES:-10000 200000}
EPOCHS=${EPOCHS:-1}
EPOCHS3_SIZES=${EPOCHS3_SIZES-10000}
EVAL_ROWS=${EVAL_ROWS:-20000}
THREADS=${THREADS:-1}
# name=flags of the peer; crank's defaults are embedding Adagrad 0.1 (accumulator 0), dense Adam
# 0.002, batch 512, and (for Criteo files) a vocabulary of the tokens seen at least twice; the peer
# hashes into --buckets.
PEER_SETTINGS=${PEER_SETTINGS:-"crank_hp=--emb-opt adagrad --emb-lr 0.1 --dense-opt adam --dense-lr 0.002 --batch-size 512 --buckets 100000
a0.1_d1e-3_b256=--emb-opt adagrad --emb-lr 0.1 --dense-opt adam --dense-lr 0.001 --batch-size 256 --buckets 100000
a0.05_d1e-3_b128=--emb-opt adagrad --emb-lr 0.05 --dense-opt adam --dense-lr 0.001 --batch-size 128 --buckets 100000
a0.05_d1e-3_b128_10k=--emb-opt adagrad --emb-lr 0.05 --dense-opt adam --dense-lr 0.001 --batch-size 128 --buckets 10000"}
# name=flags of crank runs beside its defaults (1 epoch).
CRANK_SETTINGS=${CRANK_SETTINGS:-"hash_100k=--hash-buckets 100000"}
# The peer settings also run at 3 epochs (names from PEER_SETTINGS).
PEER_SETTINGS3=${PEER_SETTINGS3:-crank_hp a0.05_d1e-3_b128}
export OMP_WAIT_POLICY=${OMP_WAIT_POLICY:-passive}

[[ -x $CRANK ]] || { echo "no crank binary at $CRANK (build crank_cli, or set CRANK)" >&2; exit 1; }
mkdir -p "$WORK/data" "$WORK/runs"
results=$WORK/results.tsv
[[ -f $results ]] || printf 'family\trows\tepochs\tsystem\tsetting\tauc\tlogloss\ttable_rows\tseconds\n' >"$results"

max_size=0
for n in $SIZES; do ((n > max_size)) && max_size=$n; done

# make_family FAMILY ROWS (bench/study_families.sh).
source "$here/bench/study_families.sh"

# The first n rows of a family's training file (the whole file when shorter): prints the path.
train_file() {
  local f=$1 n=$2 src=$WORK/data/${1}_train.tsv out=$WORK/data/${1}_train_$2.tsv
  if (( $(wc -l <"$src") <= n )); then echo "$src"; return; fi
  [[ -s $out ]] || head -n "$n" "$src" >"$out"
  echo "$out"
}

# True when the run (family rows epochs system setting) is already in the results: a study
# that was stopped resumes where it was.
done_before() { grep -qP "^$1\t$2\t$3\t$4\t$5\t" "$results"; }

record() { printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$@" >>"$results"; }

run_crank() {  # family rows epochs setting train eval [flags...]
  local f=$1 n=$2 e=$3 name=$4 tr=$5 ev=$6; shift 6
  local tag=$WORK/runs/${f}_${n}_${e}_crank_$name t0 t1 table_rows
  done_before "$f" "$n" "$e" crank "$name" && return 0
  t0=$(date +%s.%N)
  "$CRANK" -q train --train "$tr" --eval "$ev" --model-out "$tag.crank" --metrics-out "$tag.json" \
    --threads "$THREADS" --seed 0 --epochs "$e" "$@" 2>"$tag.log"
  t1=$(date +%s.%N)
  table_rows=$("$CRANK" info --model "$tag.crank" | sed -n 's/^# embedding rows: \([0-9]*\).*/\1/p')
  read -r auc ll < <("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["auc"], d["logloss"])' "$tag.json")
  record "$f" "$n" "$e" crank "$name" "$auc" "$ll" "$table_rows" "$(echo "$t1 - $t0" | bc)"
  rm -rf "$tag.crank" "$tag.crank.ckpt"  # the models are not kept
}

run_peer() {  # family rows epochs setting train eval flags
  local f=$1 n=$2 e=$3 name=$4 tr=$5 ev=$6 flags=$7 tag t0 t1 buckets
  tag=$WORK/runs/${f}_${n}_${e}_peer_$name
  done_before "$f" "$n" "$e" peer "$name" && return 0
  t0=$(date +%s.%N)
  # shellcheck disable=SC2086
  "$PYTHON" "$PEER" --train "$tr" --eval "$ev" --epochs "$e" --threads "$THREADS" --seed 1 $flags \
    >"$tag.json" 2>"$tag.log"
  t1=$(date +%s.%N)
  buckets=$(sed -n 's/.*--buckets \([0-9]*\).*/\1/p' <<<"$flags")
  read -r auc ll < <("$PYTHON" -c 'import json,sys; d=json.load(open(sys.argv[1])); print(d["auc"], d["logloss"])' "$tag.json")
  record "$f" "$n" "$e" peer "$name" "$auc" "$ll" "$((26 * (buckets + 1)))" "$(echo "$t1 - $t0" | bc)"
}

for f in $FAMILIES; do
  make_family "$f" "$max_size" || continue
  ev=$WORK/data/${f}_eval.tsv
  for n in $SIZES; do
    tr=$(train_file "$f" "$n")
    rows=$(wc -l <"$tr")
    epochs=$EPOCHS
    [[ " $EPOCHS3_SIZES " == *" $n "* ]] && epochs="$EPOCHS 3"
    for e in $(tr ' ' '\n' <<<"$epochs" | sort -un); do
      echo "# $f: $rows rows, $e epoch(s)" >&2
      if [[ $STUDY == vocab ]]; then
        run_crank "$f" "$rows" "$e" hash_100k "$tr" "$ev" --hash-buckets 100000
        run_crank "$f" "$rows" "$e" hash_10k "$tr" "$ev" --hash-buckets 10000
        for mc in 1 2 5 10; do
          run_crank "$f" "$rows" "$e" "min_count_$mc" "$tr" "$ev" --min-count "$mc"
        done
      else
        run_crank "$f" "$rows" "$e" defaults "$tr" "$ev"
        while IFS='=' read -r name flags; do
          [[ -z $name || $e != 1 ]] && continue
          # shellcheck disable=SC2086
          run_crank "$f" "$rows" "$e" "$name" "$tr" "$ev" $flags
        done <<<"$CRANK_SETTINGS"
        while IFS='=' read -r name flags; do
          [[ -z $name ]] && continue
          [[ $e != 1 && " $PEER_SETTINGS3 " != *" $name "* ]] && continue
          run_peer "$f" "$rows" "$e" "$name" "$tr" "$ev" "$flags"
        done <<<"$PEER_SETTINGS"
      fi
    done
  done
done

"$PYTHON" - "$results" "$STUDY" <<'PY'
import collections, sys
rows = [l.rstrip("\n").split("\t") for l in open(sys.argv[1])][1:]
print("\n| family | rows | epochs | system | setting | AUC | logloss | embedding rows | s |")
print("|---|---|---|---|---|---|---|---|---|")
for r in rows:
    print("| " + " | ".join(r[:5] + ["%.5f" % float(r[5]), "%.5f" % float(r[6]), r[7], "%.0f" % float(r[8])]) + " |")
if sys.argv[2] != "vocab":
    groups = collections.OrderedDict()
    for r in rows:
        groups.setdefault(tuple(r[:3]), []).append(r)
    print("\n| family | rows | epochs | crank defaults AUC | crank --hash-buckets 100000 AUC | best peer AUC (setting) | difference |")
    print("|---|---|---|---|---|---|---|")
    diffs = []
    for key, rs in groups.items():
        c = [r for r in rs if r[3] == "crank" and r[4] == "defaults"]
        p = [r for r in rs if r[3] == "peer"]
        if not c or not p:
            continue
        best = max(p, key=lambda r: float(r[5]))
        d = float(c[0][5]) - float(best[5])
        diffs.append((key[2], d))
        h = [r for r in rs if r[3] == "crank" and r[4] == "hash_100k"]
        hashed = "%.5f" % float(h[0][5]) if h else "-"
        print("| %s | %s | %s | %.5f | %s | %.5f (%s) | %+.5f |" % (key + (float(c[0][5]), hashed, float(best[5]), best[4], d)))
    for e in sorted(set(k for k, _ in diffs)):
        ds = [d for k, d in diffs if k == e]
        print("\nmean difference at %s epoch(s) (crank defaults - best peer): %+.5f over %d cases" % (e, sum(ds) / len(ds), len(ds)))
PY
