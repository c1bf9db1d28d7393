#!/usr/bin/env bash
# Downloads GroupLens MovieLens "ml-latest-small" (100,836 ratings of 9,742 movies by 610 users)
# for the MovieLens tests and examples/movielens.yaml. Needs the internet; the tests that use it
# skip, naming this script, when it is absent (generated rows of the same shape are tested
# either way).
#
#   scripts/get_movielens.sh [TARGET_DIR]
#
# TARGET_DIR defaults to ../shared/data/movielens-latest-small beside the repository, where the
# tests and examples/movielens.yaml look for it. The data set is licensed by GroupLens for
# non-commercial use only and asks for a citation (see README.txt in TARGET_DIR); do not commit
# it to the repository.
set -euo pipefail

readonly url="https://files.grouplens.org/datasets/movielens/ml-latest-small.zip"
readonly expected_ratings=100836

repo_root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
target=${1:-"$repo_root/../shared/data/movielens-latest-small"}

die() {
  echo "get_movielens.sh: error: $*" >&2
  exit 1
}

if [[ $# -gt 1 || ${1:-} == -h || ${1:-} == --help ]]; then
  sed -n '2,12p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//'
  [[ $# -gt 1 ]] && exit 2 || exit 0
fi

if [[ -f "$target/ratings.csv" && -f "$target/movies.csv" ]]; then
  echo "MovieLens ml-latest-small is already in $target; nothing to do."
  exit 0
fi

if command -v curl >/dev/null 2>&1; then
  fetch() { curl --fail --location --silent --show-error --retry 3 --output "$2" "$1"; }
elif command -v wget >/dev/null 2>&1; then
  fetch() { wget --quiet --tries=3 --output-document="$2" "$1"; }
else
  die "expected curl or wget to download $url, found neither (apt-get install curl)"
fi
command -v unzip >/dev/null 2>&1 || die "expected unzip to extract the archive, not found (apt-get install unzip)"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

echo "downloading $url"
fetch "$url" "$work/ml-latest-small.zip" ||
  die "could not download $url (is the internet reachable from this machine?)"
unzip -tq "$work/ml-latest-small.zip" >/dev/null ||
  die "$url: the download is not a valid zip archive"
unzip -q "$work/ml-latest-small.zip" -d "$work"

src="$work/ml-latest-small"
for f in ratings.csv movies.csv README.txt; do
  [[ -f "$src/$f" ]] || die "expected $f in the archive (ml-latest-small/$f), not found"
done
[[ $(head -n 1 "$src/ratings.csv" | tr -d '\r') == "userId,movieId,rating,timestamp" ]] ||
  die "ratings.csv: expected the header userId,movieId,rating,timestamp, found '$(head -n 1 "$src/ratings.csv")'"
[[ $(head -n 1 "$src/movies.csv" | tr -d '\r') == "movieId,title,genres" ]] ||
  die "movies.csv: expected the header movieId,title,genres, found '$(head -n 1 "$src/movies.csv")'"
ratings=$(($(wc -l <"$src/ratings.csv") - 1))
if [[ $ratings -ne $expected_ratings ]]; then
  echo "get_movielens.sh: warning: expected $expected_ratings ratings (the release the tests'" \
    "reference numbers come from), found $ratings; the MovieLens tests may fail" >&2
fi

# Copy into a staging folder beside the target, then rename, so an interrupted run never leaves
# a half-written data set where the tests look.
mkdir -p "$(dirname "$target")"
stage="$target.partial.$$"
rm -rf "$stage"
cp -R "$src" "$stage"
if [[ -e "$target" ]]; then
  cp "$stage"/* "$target"/ && rm -rf "$stage"
else
  mv "$stage" "$target"
fi
echo "MovieLens ml-latest-small ($ratings ratings) is in $target"
echo "Licence: non-commercial use, cite F. Maxwell Harper and Joseph A. Konstan (2015) as" \
  "$target/README.txt asks."
