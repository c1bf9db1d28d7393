"""train.tensorboard in a YAML job: fit writes the event file as `crank train --tensorboard` does
(docs/tensorboard.md), and an unwritable directory fails before training."""

import pathlib
import struct

import pytest

import crank
from conftest import SMALL


def records_of(path):
    """The records of an event file (their data), split by the TFRecord framing."""
    blob = pathlib.Path(path).read_bytes()
    at, records = 0, []
    while at < len(blob):
        (length,) = struct.unpack_from("<Q", blob, at)
        records.append(blob[at + 12:at + 12 + length])
        at += 12 + length + 4
    return records


def test_fit_writes_the_event_file_of_the_yaml_job(tmp_path, criteo):
    job = tmp_path / "job.yaml"
    job.write_text("train:\n  tensorboard: %s\n  tensorboard_every: 5\n" % (tmp_path / "tb"))
    m = crank.Ranking.from_yaml(job, **SMALL)
    r = m.fit(criteo / "train.tsv", validation_data=criteo / "eval.tsv", verbose=0)
    files = list((tmp_path / "tb").iterdir())
    assert len(files) == 1 and files[0].name.startswith("events.out.tfevents.")
    records = records_of(files[0])
    assert b"brain.Event:2" in records[0]
    losses = [rec for rec in records if b"train/loss" in rec]
    steps = r.raw["steps"]  # 6000 rows, 256 per batch: 24 steps, points at 5, 10, 15, 20, 24
    assert len(losses) == steps // 5 + (1 if steps % 5 else 0)
    assert sum(b"eval/auc" in rec for rec in records) == len(r.raw["evaluations"])


def test_an_unwritable_directory_fails_before_training(tmp_path, criteo):
    (tmp_path / "file").write_text("x")
    job = tmp_path / "job.yaml"
    job.write_text("train:\n  tensorboard: %s\n" % (tmp_path / "file" / "tb"))
    m = crank.Ranking.from_yaml(job, **SMALL)
    with pytest.raises(OSError, match="tensorboard directory"):
        m.fit(criteo / "train.tsv", verbose=0)
