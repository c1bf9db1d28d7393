"""Ranking.fit runs the CLI's trainer: the same configuration and seed give bit-identical
metrics (the JSON of `crank train --metrics-out` holds every double exactly)."""

import json

import numpy as np

import crank
from conftest import SMALL, run_cli


def cli_train(tmp_path, args):
    out = tmp_path / "cli.crank"
    metrics = tmp_path / "cli.json"
    run_cli("train", "--model-out", out, "--metrics-out", metrics, *args)
    return out, json.loads(metrics.read_text())


def assert_same_metrics(python_metrics, cli_metrics):
    assert python_metrics.keys() == {k for k in cli_metrics if k in python_metrics}
    for k, v in python_metrics.items():
        expected = cli_metrics[k]
        if expected is None:
            assert not np.isfinite(v), k
        else:
            assert v == expected, "%s: python %r, CLI %r" % (k, v, expected)


def fit_movielens(config, tmp_path, epochs):
    model = crank.Ranking.from_yaml(config, seed=0, epochs=epochs, threads=1)
    history = model.fit(verbose=0)  # data.train and data.eval of the configuration
    _, cli = cli_train(tmp_path, ["--config", config, "--seed", "0", "--epochs", str(epochs)])
    assert "rmse" in history.final_eval
    assert_same_metrics(history.final_eval, cli)
    assert history.steps == cli["steps"]
    assert history.history["val_rmse"] == [h["metrics"]["rmse"] for h in cli["history"]]
    return model


def test_fit_movielens_example_matches_cli(movielens_real, tmp_path):
    fit_movielens(movielens_real, tmp_path, epochs=1)


def test_fit_generated_movielens_matches_cli(movielens_generated, tmp_path):
    fit_movielens(movielens_generated, tmp_path, epochs=2)


def test_fit_criteo_matches_cli_and_writes_the_same_model(criteo, tmp_path):
    model = crank.Ranking(**SMALL)
    history = model.fit(criteo / "train.tsv", validation_data=criteo / "eval.tsv", epochs=2,
                        checkpoint=tmp_path / "py.crank", verbose=0)
    cli_model, cli = cli_train(tmp_path, [
        "--train", criteo / "train.tsv", "--eval", criteo / "eval.tsv", "--epochs", "2",
        "--hash-buckets", "1000", "--embedding-dim", "8", "--bottom", "32,8", "--top", "32,1",
        "--batch-size", "256", "--seed", "3"])
    assert_same_metrics(history.final_eval, cli)
    assert len(history.history["loss"]) == 2
    # The weights are the same bits: the CLI's model predicts what the Python model predicts.
    rows = criteo / "eval.tsv"
    np.testing.assert_array_equal(model.predict(rows), crank.load(cli_model).predict(rows))
    np.testing.assert_array_equal(crank.load(tmp_path / "py.crank").predict(rows),
                                  model.predict(rows))


def test_fit_without_an_encoding_follows_the_cli_default_rule(criteo, tmp_path):
    # No hash_buckets: a new model's Criteo encoding is the CLI's default (a vocabulary of the
    # tokens seen at least twice in the training file), not hashing.
    options = {k: v for k, v in SMALL.items() if k != "hash_buckets"}
    model = crank.Ranking(**options)
    history = model.fit(criteo / "train.tsv", validation_data=criteo / "eval.tsv", epochs=1,
                        verbose=0)
    cli_model, cli = cli_train(tmp_path, [
        "--train", criteo / "train.tsv", "--eval", criteo / "eval.tsv", "--epochs", "1",
        "--embedding-dim", "8", "--bottom", "32,8", "--top", "32,1", "--batch-size", "256",
        "--seed", "3"])
    assert_same_metrics(history.final_eval, cli)
    rows = model.embedding_table("C3").shape[0]
    assert rows == crank.load(cli_model).embedding_table("C3").shape[0]
    assert rows < 100001  # not the 100,000 hash buckets (+ the missing id)
    # A second fit continues with the same encoding.
    model.fit(criteo / "train.tsv", epochs=1, verbose=0)
    assert model.embedding_table("C3").shape[0] == rows


def test_fit_without_a_batch_size_follows_the_cli_small_data_rule(criteo, tmp_path):
    # No batch_size: on the 6000-row training file (fewer than 20,480 rows) a new model trains
    # at batch 256 as `crank train` does (docs/defaults.md, "Small data"), not at 512.
    options = {k: v for k, v in SMALL.items() if k != "batch_size"}
    model = crank.Ranking(**options)
    history = model.fit(criteo / "train.tsv", validation_data=criteo / "eval.tsv", epochs=1,
                        verbose=0)
    cli_model, cli = cli_train(tmp_path, [
        "--train", criteo / "train.tsv", "--eval", criteo / "eval.tsv", "--epochs", "1",
        "--embedding-dim", "8", "--bottom", "32,8", "--top", "32,1", "--hash-buckets", "1000",
        "--seed", "3"])
    assert_same_metrics(history.final_eval, cli)
    assert history.steps == cli["steps"] == 24  # 6000 rows / 256
    assert model.config_batch_size() == 256
    # Given, it is kept.
    given = crank.Ranking(**options, batch_size=512)
    assert given.fit(criteo / "train.tsv", epochs=1, verbose=0).steps == 12
