# The data families of the accuracy studies (bf16_study.sh, defaults_study.sh,
# embedding_precision_study.sh); sourced by them, not run.
#
#   t1         `crank gen --teacher-seed 1` (the project's click model); t7: teacher seed 7
#   zipf       `crank gen --teacher-seed 3 --zipf-exponent 0.8 --max-cardinality 1000000`: heavy
#              tail, most ids of the large fields seen once
#   nodense    `crank gen --teacher-seed 5 --no-dense`
#   movielens  ml-latest-small ratings as clicks (bench/movielens_to_criteo.py; needs
#              $MOVIELENS/ratings.csv, skipped with a note when absent)
#
# make_family FAMILY TRAIN_ROWS: writes $WORK/data/<family>_train.tsv (TRAIN_ROWS rows, --seed 1)
# and <family>_eval.tsv ($EVAL_ROWS rows, --seed 2) unless both exist; MovieLens has its own
# rows. Returns 1 when the family cannot be made here. Reads WORK, CRANK, PYTHON, MOVIELENS,
# EVAL_ROWS and here (the source root).
make_family() {
  local f=$1 rows=$2 d=$WORK/data gen=()
  [[ -s $d/${f}_train.tsv && -s $d/${f}_eval.tsv ]] && return 0
  case $f in
    t1) gen=(--teacher-seed 1) ;;
    t7) gen=(--teacher-seed 7) ;;
    zipf) gen=(--teacher-seed 3 --zipf-exponent 0.8 --max-cardinality 1000000) ;;
    nodense) gen=(--teacher-seed 5 --no-dense) ;;
    movielens)
      [[ -f $MOVIELENS/ratings.csv ]] || { echo "# movielens: $MOVIELENS/ratings.csv absent, skipped" >&2; return 1; }
      "$PYTHON" "$here/bench/movielens_to_criteo.py" "$MOVIELENS/ratings.csv" \
        "$d/${f}_train.tsv" "$d/${f}_eval.tsv"
      return 0 ;;
    *) echo "unknown family $f" >&2; return 1 ;;
  esac
  "$CRANK" -q gen --rows "$rows" --seed 1 "${gen[@]}" --out "$d/${f}_train.tsv"
  "$CRANK" -q gen --rows "$EVAL_ROWS" --seed 2 "${gen[@]}" --out "$d/${f}_eval.tsv"
}
