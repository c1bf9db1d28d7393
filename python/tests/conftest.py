"""Shared fixtures of the Python suite: the CLI to compare with, generated data, MovieLens."""

import os
import pathlib
import subprocess

import numpy as np
import pytest

import crank

SOURCE_DIR = pathlib.Path(os.environ.get("CRANK_SOURCE_DIR",
                                         pathlib.Path(__file__).resolve().parents[2]))
MOVIELENS_DIR = SOURCE_DIR.parent / "shared" / "data" / "movielens-latest-small"
MOVIELENS_YAML = SOURCE_DIR / "examples" / "movielens.yaml"

# A small DLRM for generated Criteo rows: fast enough for many tests. One thread, here and in
# the CLI runs (run_cli): the suite runs beside other tests (ctest -j), and results do not
# depend on the thread count.
SMALL = dict(hash_buckets=1000, embedding_dim=8, bottom=[32, 8], top=[32, 1], batch_size=256,
             seed=3, threads=1)


def cli_path():
    path = os.environ.get("CRANK_CLI", str(SOURCE_DIR / "build" / "bin" / "crank"))
    if not os.access(path, os.X_OK):
        pytest.skip("the crank CLI is not built at %s (set CRANK_CLI)" % path)
    return path


def run_cli(*args):
    if args[0] in ("train", "eval", "predict"):
        args = args + ("--threads", "1")
    r = subprocess.run([cli_path(), "-q", *map(str, args)], capture_output=True, text=True)
    assert r.returncode == 0, "crank %s failed: %s" % (" ".join(map(str, args)), r.stderr)
    return r


@pytest.fixture(scope="session")
def criteo(tmp_path_factory):
    """Generated Criteo rows: train.tsv (6000 rows), eval.tsv (2000 rows, same click model)."""
    d = tmp_path_factory.mktemp("criteo")
    crank.generate_synthetic(str(d / "train.tsv"), rows=6000, seed=1)
    crank.generate_synthetic(str(d / "eval.tsv"), rows=2000, seed=2)
    return d


def write_movielens_like(d, users=60, movies=120, ratings=3000, seed=5):
    """ratings.csv and movies.csv in the MovieLens "latest-small" format (userId, movieId,
    rating, timestamp; movieId, title with year, genres joined by '|')."""
    rng = np.random.default_rng(seed)
    genres = ["Action", "Comedy", "Drama", "Horror", "Romance", "Sci-Fi", "Thriller"]
    with open(d / "movies.csv", "w") as f:
        f.write("movieId,title,genres\n")
        for m in range(1, movies + 1):
            g = rng.choice(genres, size=rng.integers(1, 4), replace=False)
            year = 1950 + int(rng.integers(0, 70))
            f.write('%d,"Movie %d (%d)",%s\n' % (m, m, year, "|".join(g)))
    user_bias = rng.normal(0, 0.5, users + 1)
    movie_bias = rng.normal(0, 0.7, movies + 1)
    with open(d / "ratings.csv", "w") as f:
        f.write("userId,movieId,rating,timestamp\n")
        for u in range(1, users + 1):
            for _ in range(ratings // users):
                m = int(rng.integers(1, movies + 1))
                r = np.clip(3.5 + user_bias[u] + movie_bias[m] + rng.normal(0, 0.6), 0.5, 5.0)
                t = 946684800 + int(rng.integers(0, 600_000_000))
                f.write("%d,%d,%.1f,%d\n" % (u, m, round(r * 2) / 2, t))


def movielens_config(data_dir, out_dir):
    """examples/movielens.yaml with its data paths pointing at data_dir."""
    text = MOVIELENS_YAML.read_text().replace("../../shared/data/movielens-latest-small",
                                              str(data_dir))
    path = out_dir / "movielens.yaml"
    path.write_text(text)
    return path


@pytest.fixture(scope="session")
def movielens_generated(tmp_path_factory):
    d = tmp_path_factory.mktemp("movielens_generated")
    write_movielens_like(d)
    return movielens_config(d, d)


@pytest.fixture(scope="session")
def movielens_real():
    if not (MOVIELENS_DIR / "ratings.csv").exists():
        pytest.skip("MovieLens data absent at %s: run scripts/get_movielens.sh" % MOVIELENS_DIR)
    return MOVIELENS_YAML
