"""Models without dense features (categorical columns only) and without sparse features: fit,
predict on files and on model-space dicts (no "dense" key, or only "dense"), and the CLI's
predictions for the same model."""

import numpy as np

import crank
from conftest import run_cli


def write_categorical_only(path, rows, seed):
    """click,a,b,c,tags: three categorical columns and a multi-hot one; a learnable signal."""
    rng = np.random.default_rng(seed)
    effect = np.random.default_rng(0).normal(0, 1.0, size=(3, 12))
    with open(path, "w") as f:
        f.write("click,a,b,c,tags\n")
        for _ in range(rows):
            v = rng.integers(0, 12, size=3)
            logit = effect[0, v[0]] + effect[1, v[1]] + effect[0, v[0]] * effect[2, v[2]]
            y = int(rng.random() < 1 / (1 + np.exp(-logit)))
            tags = "|".join("t%d" % t for t in rng.integers(0, 5, size=rng.integers(0, 3)))
            f.write("%d,a%d,b%d,c%d,%s\n" % (y, v[0], v[1], v[2], tags))


CATEGORICAL_YAML = """
data:
  format: delimited
  on_error: fail
  delimited:
    delimiter: ","
    label: click
    categorical:
      - {name: a, vocabulary: {min_count: 1}}
      - {name: b, vocabulary: {min_count: 1}}
      - {name: c, vocabulary: {min_count: 1}}
    multi_hot:
      - {name: tags, separator: "|", vocabulary: {min_count: 1}}
model:
  embedding_dim: 4
  bottom: []
  top: [16, 1]
train: {batch_size: 64, epochs: 2, seed: 1, threads: 1}
"""


def test_categorical_only_model_predicts_dicts_without_dense(tmp_path):
    write_categorical_only(tmp_path / "train.csv", 3000, 1)
    write_categorical_only(tmp_path / "eval.csv", 500, 2)
    (tmp_path / "job.yaml").write_text(CATEGORICAL_YAML)
    model = crank.Ranking.from_yaml(tmp_path / "job.yaml")
    model.fit(str(tmp_path / "train.csv"), verbose=0)
    names = [name for name, _, _ in model.input_specs()]
    assert names == ["a", "b", "c", "tags", "tags.lengths"]
    assert model.evaluate(str(tmp_path / "eval.csv"))["auc"] > 0.6
    batch = model.batches(str(tmp_path / "eval.csv"), batch_size=500)[0]
    assert "dense" not in batch
    inputs = {k: v for k, v in batch.items() if k != "label"}
    from_files = model.predict(str(tmp_path / "eval.csv"))
    np.testing.assert_array_equal(model.predict(inputs), from_files)
    # The saved model gives the CLI's predictions, and loads back.
    model.save(tmp_path / "m.crank")
    run_cli("predict", "--model", tmp_path / "m.crank", "--data", tmp_path / "eval.csv",
            "--out", tmp_path / "p.txt")
    cli = np.loadtxt(tmp_path / "p.txt", dtype=np.float32)
    np.testing.assert_allclose(from_files, cli, rtol=0, atol=1e-6)
    np.testing.assert_array_equal(crank.load(tmp_path / "m.crank").predict(inputs), from_files)


def test_dense_only_model_predicts_a_dict_with_dense_alone(tmp_path):
    rng = np.random.default_rng(3)
    with open(tmp_path / "d.csv", "w") as f:
        f.write("y,x0,x1\n")
        for _ in range(2000):
            x = rng.normal(size=2)
            f.write("%d,%.6f,%.6f\n" % (int(rng.random() < 1 / (1 + np.exp(-2 * x[0]))), *x))
    (tmp_path / "job.yaml").write_text(
        "data:\n  format: delimited\n  delimited:\n    delimiter: \",\"\n    label: y\n"
        "    dense: [x0, x1]\n"
        "model:\n  bottom: [8, 4]\n  top: [8, 1]\ntrain: {batch_size: 64, seed: 1, threads: 1}\n")
    model = crank.Ranking.from_yaml(tmp_path / "job.yaml")
    model.fit(str(tmp_path / "d.csv"), verbose=0)
    assert [name for name, _, _ in model.input_specs()] == ["dense"]
    batch = model.batches(str(tmp_path / "d.csv"), batch_size=2000)[0]
    assert sorted(batch) == ["dense", "label"]
    p = model.predict({"dense": batch["dense"]})
    np.testing.assert_array_equal(p, model.predict(str(tmp_path / "d.csv")))
    assert model.evaluate(str(tmp_path / "d.csv"))["auc"] > 0.7
