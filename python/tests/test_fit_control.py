"""Callbacks, Ctrl-C, continued training, save/load, views, per-model settings, info()."""

import os
import signal
import threading
import time

import numpy as np
import pytest

import crank
from conftest import SMALL


class Boom(Exception):
    pass


def test_callback_that_raises_stops_fit_and_reraises(criteo, tmp_path):
    seen = []

    def callback(step, logs):
        seen.append(step)
        if step == 5:
            raise Boom("stop at 5")

    model = crank.Ranking(**SMALL)
    with pytest.raises(Boom, match="stop at 5"):
        model.fit(criteo / "train.tsv", callbacks=[callback], checkpoint=tmp_path / "m.crank",
                  verbose=0)
    assert seen == [1, 2, 3, 4, 5]
    # The run stopped after step 5 with its checkpoint written; fit continues from it.
    saved = crank.load(tmp_path / "m.crank.ckpt")
    assert saved.state["global_step"] == 5
    history = model.fit(criteo / "train.tsv", epochs=1, verbose=0)
    assert history.steps == 24  # 6000 rows / 256: the interrupted epoch is finished


def test_callback_can_stop_the_run(criteo):
    model = crank.Ranking(**SMALL)
    history = model.fit(criteo / "train.tsv", verbose=0,
                        callbacks=[lambda step, logs: "stop" if step == 3 else None])
    assert history.steps == 3 and history.stopped_by_callback


def test_ctrl_c_stops_after_the_current_step(tmp_path):
    data = tmp_path / "big.tsv"
    crank.generate_synthetic(str(data), rows=60000, seed=4)
    model = crank.Ranking(**dict(SMALL, batch_size=64))
    timer = threading.Timer(0.3, lambda: os.kill(os.getpid(), signal.SIGINT))
    started = time.monotonic()
    timer.start()
    with pytest.raises(KeyboardInterrupt):
        model.fit(data, epochs=3, checkpoint=tmp_path / "m.crank", verbose=0)
    timer.join()
    assert time.monotonic() - started < 30
    steps = model.state["global_step"]
    assert 0 < steps < 3 * 938
    saved = crank.load(tmp_path / "m.crank.ckpt")  # the checkpoint is intact
    assert saved.state["global_step"] == steps
    np.testing.assert_array_equal(saved.embedding_table("C1"), model.embedding_table("C1"))


def test_save_load_round_trip_and_table_view(criteo, tmp_path):
    model = crank.Ranking(**SMALL)
    model.fit(criteo / "train.tsv", max_steps=4, verbose=0)
    model.save(tmp_path / "m.crank")
    loaded = crank.load(tmp_path / "m.crank")
    rows = criteo / "eval.tsv"
    np.testing.assert_array_equal(loaded.predict(rows), model.predict(rows))
    table = loaded.embedding_table("C5")
    assert table.shape == (1001, 8) and table.dtype == np.float32  # 1000 buckets + missing
    assert not table.flags.writeable and not table.flags.owndata
    with pytest.raises(ValueError):
        table[0, 0] = 1.0
    before = table.copy()
    batch = loaded.batches(rows, batch_size=128)[0]
    loaded.train_step(batch)  # the view shows the update: it is the table itself
    assert not np.array_equal(before, table)
    assert np.array_equal(table, loaded.embedding_table("C5"))
    del loaded
    assert np.isfinite(table).all()  # the view keeps the model alive


def test_compile_and_per_model_compute(criteo):
    a = crank.Ranking(**SMALL).compile(embedding_optimizer=crank.Adagrad(0.05),
                                      dense_optimizer=crank.Adam(0.001), threads=1)
    b = crank.Ranking(**SMALL).compile(optimizer=crank.SGD(0.1), threads=2, precision="fp32")
    assert "kind: sgd" in b.config_yaml and "kind: adam" in a.config_yaml
    batch = a.batches(criteo / "train.tsv")[0]
    a.train_step(batch)
    b.train_step(batch)
    assert a.summary()["threads"] == 1 and b.summary()["threads"] == 2
    # Two models with different thread counts, on two Python threads at once.
    results = {}
    threads = [threading.Thread(target=lambda m=m, k=k: results.setdefault(k, m.predict(batch)))
               for k, m in (("a", a), ("b", b))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    np.testing.assert_array_equal(results["a"], a.predict(batch))
    np.testing.assert_array_equal(results["b"], b.predict(batch))


def test_info_reports_the_compute_setup():
    info = crank.info()
    for key in ["threads", "cpu_isa", "gemm_backend", "openmp_wait", "environment_applied",
                "not_applied", "version"]:
        assert key in info
    assert isinstance(info["not_applied"], list)
    if "GOMP_SPINCOUNT" in info["environment_applied"]:
        assert "spin 1000 rounds" in info["openmp_wait"]


def test_ctrl_c_stops_evaluate_and_predict(tmp_path):
    data = tmp_path / "rows.tsv"
    rows = 30000
    crank.generate_synthetic(str(data), rows=rows, seed=4)
    model = crank.Ranking(**SMALL)
    for call in (lambda: model.evaluate(data, batch_size=8),
                 lambda: model.predict(data, batch_size=8)):
        while True:  # enough rows that the signal below comes well inside the call
            started = time.monotonic()
            call()
            whole = time.monotonic() - started
            if whole > 0.4:
                break
            assert rows < 30000 * 4 ** 4, "evaluate/predict never took 0.4 s"
            rows *= 4
            crank.generate_synthetic(str(data), rows=rows, seed=4)
        timer = threading.Timer(0.1, lambda: os.kill(os.getpid(), signal.SIGINT))
        started = time.monotonic()
        timer.start()
        with pytest.raises(KeyboardInterrupt):
            call()
        timer.join()
        assert time.monotonic() - started < whole
    assert model.evaluate(data, batch_size=4096)["examples"] == rows  # usable afterwards
