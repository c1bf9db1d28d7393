"""Every invalid input raises the right exception with a useful message; nothing crashes."""

import numpy as np
import pytest

import crank
from conftest import SMALL


@pytest.fixture(scope="module")
def model(criteo):
    m = crank.Ranking(**SMALL)
    m.fit(criteo / "train.tsv", max_steps=3, verbose=0)
    return m


@pytest.fixture(scope="module")
def batch(model, criteo):
    b = model.batches(criteo / "eval.tsv", batch_size=4)[0]
    return b


def with_(batch, **changes):
    b = dict(batch)
    for k, v in changes.items():
        if v is None:
            del b[k]
        else:
            b[k] = v
    return b


def test_shape_errors_name_the_input(model, batch):
    with pytest.raises(ValueError, match=r"input 'dense': expected shape \[4, 13\], got \[4, 12\]"):
        model.predict(with_(batch, dense=np.zeros((4, 12), np.float32)))
    with pytest.raises(ValueError, match=r"input 'C3': expected shape \[4\].*got \[5\]"):
        model.predict(with_(batch, C3=np.zeros(5, np.int64)))
    with pytest.raises(ValueError, match=r"input 'C3': expected a shape of rank 1, got \[4, 1\]"):
        model.predict(with_(batch, C3=np.zeros((4, 1), np.int64)))


def test_missing_unknown_and_out_of_range_inputs(model, batch):
    with pytest.raises(ValueError, match=r"input 'C7': missing"):
        model.predict(with_(batch, C7=None))
    with pytest.raises(ValueError, match=r"input 'C99': unknown input \(the model takes dense, C1, "):
        model.predict(with_(batch, C99=np.zeros(4, np.int64)))
    v = model.embedding_table("C1").shape[0]  # the vocabulary: hash buckets + the missing id
    with pytest.raises(ValueError, match=r"input 'C1': id %d at index 2 is outside \[0, %d\)"
                       % (v, v)):
        model.predict(with_(batch, C1=np.array([0, 1, v, 2])))
    with pytest.raises(ValueError, match=r"input 'C1': id -1"):
        model.predict(with_(batch, C1=np.array([0, -1, 3, 2])))
    with pytest.raises(ValueError, match=r"input 'label': missing"):
        model.train_step(with_(batch, label=None))
    with pytest.raises(ValueError, match=r"input 'label': expected shape \[4\]"):
        model.train_step(batch, labels=np.zeros(3, np.float32))


def test_unsafe_dtypes_raise_type_error(model, batch):
    with pytest.raises(TypeError, match=r"input 'C2': expected integer ids \(INT64\), got dtype float64"):
        model.predict(with_(batch, C2=np.zeros(4)))
    with pytest.raises(TypeError, match=r"input 'dense': expected float32"):
        model.predict(with_(batch, dense=np.zeros((4, 13), dtype=object)))
    with pytest.raises(TypeError, match=r"input 'C2': expected a numpy array, got str"):
        model.predict(with_(batch, C2="12"))


def test_multi_hot_errors(movielens_generated):
    m = crank.Ranking.from_yaml(movielens_generated)
    b = m.batches(str(movielens_generated.parent / "ratings.csv"), batch_size=3)[0]
    with pytest.raises(ValueError, match=r"input 'genres.lengths': lengths sum to"):
        m.predict(with_(b, **{"genres.lengths": b["genres.lengths"] + 1}))
    with pytest.raises(ValueError, match=r"input 'genres.lengths': missing"):
        m.predict(with_(b, **{"genres.lengths": None}))
    with pytest.raises(ValueError, match=r"input 'genres.lengths': length -1 at index 0 is negative"):
        m.predict(with_(b, **{"genres.lengths": np.array([-1, 1, 0]) + np.array([0, 0, 0])}))


def test_file_config_and_data_errors(tmp_path, criteo):
    with pytest.raises(OSError, match="nope.crank"):
        crank.load(tmp_path / "nope.crank")
    (tmp_path / "not_a_model").write_text("hello\n")
    with pytest.raises(OSError, match="not_a_model"):
        crank.load(tmp_path / "not_a_model")
    m = crank.Ranking(**SMALL)
    with pytest.raises(OSError, match="missing.tsv"):
        m.fit(tmp_path / "missing.tsv", verbose=0)
    (tmp_path / "bad.yaml").write_text("train:\n  epochs: 0\n")
    with pytest.raises(crank.ConfigError, match=r"bad.yaml:2.*train.epochs"):
        crank.Ranking.from_yaml(tmp_path / "bad.yaml")
    with pytest.raises(TypeError, match="unknown option 'epochz'"):
        crank.Ranking(epochz=3)
    bad_rows = tmp_path / "bad.tsv"
    bad_rows.write_text(open(criteo / "eval.tsv").readline() + "1\tnot-a-number\n")
    with pytest.raises(crank.DataError, match=r"bad.tsv:2"):
        crank.Ranking(bad_rows="fail", **SMALL).fit(bad_rows, verbose=0)
    with pytest.raises(ValueError, match="expected auto, fp32 or bf16"):
        m.set_compute(precision="fp16")
    with pytest.raises(KeyError, match="no table 'C0'"):
        m.embedding_table("C0")


def test_random_shapes_and_dtypes_never_crash(model, batch):
    rng = np.random.default_rng(7)
    dtypes = [np.float32, np.float64, np.int64, np.int32, np.uint8, np.bool_, object, np.float16]
    keys = list(batch) + ["C99", "dense.extra"]
    outcomes = {"ok": 0, "ValueError": 0, "TypeError": 0}
    for _ in range(400):
        b = dict(batch)
        for _ in range(rng.integers(1, 4)):
            k = keys[rng.integers(len(keys))]
            choice = rng.integers(4)
            if choice == 0:
                b.pop(k, None)
                continue
            shape = tuple(int(s) for s in rng.integers(0, 6, size=rng.integers(0, 3)))
            dtype = dtypes[rng.integers(len(dtypes))]
            if dtype is object:
                value = np.empty(shape, dtype=object)
            else:
                value = (rng.integers(-3, 2000, size=shape)).astype(dtype)
            b[k] = value if choice != 3 else list(value) if value.ndim else value
        try:
            out = model.predict(b) if rng.integers(2) else model.train_step(b)
            outcomes["ok"] += 1
            assert out is not None
        except ValueError as e:
            outcomes["ValueError"] += 1
            assert "input" in str(e) or "inputs" in str(e)
        except TypeError as e:
            outcomes["TypeError"] += 1
            assert str(e)
    assert outcomes["ValueError"] > 0 and outcomes["TypeError"] > 0


def test_error_leaves_the_model_usable(model, batch):
    with pytest.raises(ValueError):
        model.predict(with_(batch, C1=np.array([0, 1, 10**9, 2])))
    assert model.predict(batch).shape == (4,)


def test_min_count_option_sets_criteo_vocabularies_and_excludes_hash_buckets():
    yaml = crank.RankingConfig(min_count=4).yaml
    assert "min_count: 4" in yaml, yaml
    small = {k: v for k, v in SMALL.items() if k != "hash_buckets"}
    with pytest.raises(crank.ConfigError, match="--min-count and --hash-buckets exclude each other"):
        crank.Ranking(min_count=4, **SMALL)
    crank.Ranking(min_count=4, **small)
