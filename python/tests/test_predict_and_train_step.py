"""predict on numpy equals `crank predict`; train_step on numpy equals the C++ TrainStep of the
trainer bit for bit."""

import numpy as np
import pytest

import crank
from conftest import SMALL, run_cli


@pytest.fixture(scope="module")
def cli_model(criteo, tmp_path_factory):
    d = tmp_path_factory.mktemp("cli_model")
    run_cli("train", "--train", criteo / "train.tsv", "--model-out", d / "m.crank",
            "--hash-buckets", "1000", "--embedding-dim", "8", "--bottom", "32,8", "--top", "32,1",
            "--batch-size", "256", "--seed", "3")
    return d / "m.crank"


def read_predictions(path):
    return np.array([float(line) for line in open(path)], dtype=np.float32)


def test_predict_numpy_equals_cli_predict(criteo, cli_model, tmp_path):
    run_cli("predict", "--model", cli_model, "--data", criteo / "eval.tsv", "--out",
            tmp_path / "p.txt")
    expected = read_predictions(tmp_path / "p.txt")
    model = crank.load(cli_model)
    # The same batches as `crank predict` (4096 rows): a row's last bits may depend on the batch
    # size, as in every BLAS-based engine.
    batches = model.batches(criteo / "eval.tsv", rows="all", batch_size=4096)
    got = np.concatenate([model.predict({k: v for k, v in b.items() if k != "label"})
                          for b in batches])
    assert got.dtype == np.float32 and got.shape == expected.shape == (2000,)
    np.testing.assert_array_equal(got, expected)
    np.testing.assert_array_equal(model.predict(criteo / "eval.tsv"), expected)


def test_predict_output_owns_its_buffer(criteo, cli_model):
    model = crank.load(cli_model)
    batch = model.batches(criteo / "eval.tsv", rows="all", batch_size=64)[0]
    p = model.predict(batch)
    assert p.shape == (64,) and p.dtype == np.float32
    assert not p.flags.owndata and p.base is not None  # a capsule owns the C++ buffer
    assert np.all((p > 0) & (p < 1))


def test_train_step_equals_trainer_steps_bit_for_bit(criteo):
    # Model A: 10 steps of the C++ Trainer (fit); model B: the same 10 batches through
    # train_step from numpy.
    losses_a = []
    a = crank.Ranking(**SMALL)
    a.fit(criteo / "train.tsv", max_steps=10, verbose=0,
          callbacks=[lambda step, logs: losses_a.append((logs["loss"], logs["total_loss"]))])
    b = crank.Ranking(**SMALL)
    batches = b.batches(criteo / "train.tsv")[:10]
    assert all(len(x["label"]) == 256 for x in batches)
    losses_b = []
    for batch in batches:
        r = b.train_step(batch)
        assert set(r) == {"loss", "regularization_loss", "total_loss"}
        losses_b.append((r["loss"], r["total_loss"]))
    assert losses_a == losses_b
    for name in ["C1", "C14", "C26"]:
        np.testing.assert_array_equal(a.embedding_table(name), b.embedding_table(name))
    rows = criteo / "eval.tsv"
    np.testing.assert_array_equal(a.predict(rows), b.predict(rows))
    assert b.state["global_step"] == 10


def test_train_step_accepts_ragged_and_tuple_multi_hot(movielens_generated):
    model = crank.Ranking.from_yaml(movielens_generated, seed=1)
    batch = model.batches(model_files(movielens_generated))[0]
    values, lengths = batch["genres"], batch["genres.lengths"]
    as_tuple = dict(batch)
    del as_tuple["genres.lengths"]
    as_tuple["genres"] = (values, lengths)
    as_list = dict(as_tuple)
    as_list["genres"] = np.split(values, np.cumsum(lengths)[:-1])
    p1 = model.predict(batch)
    np.testing.assert_array_equal(p1, model.predict(as_tuple))
    np.testing.assert_array_equal(p1, model.predict(as_list))
    # int32 ids and float64 dense are converted (nothing is lost).
    converted = dict(batch)
    converted["userId"] = batch["userId"].astype(np.int32)
    converted["dense"] = batch["dense"].astype(np.float64)
    np.testing.assert_array_equal(p1, model.predict(converted))
    r = model.train_step(batch)
    assert np.isfinite(r["total_loss"])


def model_files(config):
    return str(config.parent / "ratings.csv")
