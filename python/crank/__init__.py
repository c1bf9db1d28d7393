"""crank from Python: train, evaluate and serve ranking models (docs/python.md).

    import crank
    model = crank.Ranking.from_yaml("job.yaml")
    model.compile(embedding_optimizer=crank.Adagrad(0.1), dense_optimizer=crank.Adam(0.002))
    history = model.fit("train.tsv", validation_data="eval.tsv", epochs=1)
    metrics = model.evaluate("eval.tsv")
    p = model.predict("rows.tsv")

The heavy work runs in C++ (crank._crank) with the GIL released.
"""

import sys as _sys

from . import _startup

_APPLIED_ENVIRONMENT = _startup.prepare()  # before the extension loads libgomp and OpenBLAS
if not _APPLIED_ENVIRONMENT:  # chosen at interpreter start by crank-startup.pth, if installed
    _APPLIED_ENVIRONMENT = dict(getattr(_sys.modules.get("_crank_startup_hook"), "APPLIED", {}))

from . import _crank  # noqa: E402

__version__ = "0.1.0"

ConfigError = _crank.ConfigError
DataError = _crank.DataError
NumericError = _crank.NumericError
generate_synthetic = _crank.generate_synthetic

__all__ = ["Ranking", "RankingConfig", "History", "SGD", "Adagrad", "RowWiseAdagrad", "Adam",
           "load", "info", "set_log_level", "generate_synthetic", "ConfigError", "DataError", "NumericError"]


def _optimizer(kind, learning_rate, **fields):
    d = {"kind": kind, "learning_rate": float(learning_rate)}
    d.update({k: v for k, v in fields.items() if v is not None})
    return d


def SGD(learning_rate=0.01, momentum=None, nesterov=None):
    """Stochastic gradient descent (optimizer kind sgd)."""
    return _optimizer("sgd", learning_rate, momentum=momentum, nesterov=nesterov)


def Adagrad(learning_rate=0.01, initial_accumulator_value=None, epsilon=None):
    """Adagrad (kind adagrad); row-sparse on embedding tables."""
    return _optimizer("adagrad", learning_rate, initial_accumulator_value=initial_accumulator_value,
                      epsilon=epsilon)


def RowWiseAdagrad(learning_rate=0.01, initial_accumulator_value=None, epsilon=None):
    """Row-wise Adagrad (kind rowwise_adagrad): one accumulator per embedding row."""
    return _optimizer("rowwise_adagrad", learning_rate,
                      initial_accumulator_value=initial_accumulator_value, epsilon=epsilon)


def Adam(learning_rate=0.001, beta_1=None, beta_2=None, epsilon=None):
    """Adam (kind adam)."""
    return _optimizer("adam", learning_rate, beta_1=beta_1, beta_2=beta_2, epsilon=epsilon)


class RankingConfig:
    """A job configuration: the YAML file's sections (docs/config.md), or the defaults, with
    options that replace values as the CLI's flags do (embedding_dim, bottom, top, interaction,
    hash_buckets, min_count, epochs, batch_size, learning_rate, seed, threads, precision, ...)."""

    def __init__(self, yaml_path=None, **options):
        self.yaml, self._encoding_given, self._batch_size_given = _crank._config_yaml(
            str(yaml_path) if yaml_path else "", options)
        self.name = str(yaml_path) if yaml_path else "RankingConfig"

    def __repr__(self):
        return "RankingConfig(\n%s)" % self.yaml


class History:
    """What fit returns. history: Keras-style lists per epoch ("loss": mean training loss of
    each epoch trained; "val_<metric>" for each evaluation); the other attributes describe the
    run (steps, train_examples_per_sec, final_eval, stopped_by_callback, checkpoint_path, ...)."""

    def __init__(self, raw):
        self.raw = raw
        self.history = {"loss": [raw["epoch_losses"][e] for e in sorted(raw["epoch_losses"])]}
        for ev in raw["evaluations"]:
            for k, v in ev["metrics"].items():
                self.history.setdefault("val_" + k, []).append(v)
        for k, v in raw.items():
            if k not in ("epoch_losses", "evaluations"):
                setattr(self, k, v)

    def __repr__(self):
        return "History(steps=%d, final_eval=%r)" % (self.steps, self.final_eval)


def _files(x):
    if x is None:
        return []
    if isinstance(x, (str, bytes)) or hasattr(x, "__fspath__"):
        return [str(x) if not isinstance(x, bytes) else x.decode()]
    return [str(p) for p in x]


class Ranking:
    """tfrs.experimental.models.Ranking in crank: one model, its data mapping and training
    state. Build it from a configuration (Ranking(config), Ranking.from_yaml(path, **options))
    or load a trained one (crank.load(path))."""

    def __init__(self, config=None, **options):
        if config is None:
            config = RankingConfig(**options)
        elif options:
            raise TypeError("Ranking: pass a RankingConfig or options, not both")
        if not isinstance(config, RankingConfig):
            raise TypeError("Ranking: expected a RankingConfig, got %s" % type(config).__name__)
        self._impl = _crank._Ranking(config.yaml, config.name,
                                     getattr(config, "_encoding_given", True),
                                     getattr(config, "_batch_size_given", True))

    @classmethod
    def from_yaml(cls, path, **options):
        """The job of a YAML file (data, model, optimizer, train sections); options as
        RankingConfig's."""
        return cls(RankingConfig(path, **options))

    @classmethod
    def _wrap(cls, impl):
        obj = cls.__new__(cls)
        obj._impl = impl
        return obj

    def compile(self, embedding_optimizer=None, dense_optimizer=None, optimizer=None,
                threads=None, precision=None):
        """Optimizers (crank.Adagrad(...), crank.Adam(...)): embedding_optimizer for the tables
        (row-sparse updates), dense_optimizer for every other variable; `optimizer` sets both.
        threads and precision ("auto" | "fp32" | "bf16") apply to this model only."""
        if optimizer is not None:
            embedding_optimizer = embedding_optimizer or optimizer
            dense_optimizer = dense_optimizer or optimizer
        self._impl.compile(embedding_optimizer, dense_optimizer)
        if threads is not None or precision is not None:
            self.set_compute(threads=threads, precision=precision)
        return self

    def set_compute(self, threads=None, precision=None):
        """This model's thread count (0: all cores) and GEMM precision ("auto": bf16 on
        AVX512-BF16/AMX CPUs at batch sizes 512-4096, else fp32 | "fp32" | "bf16")."""
        self._impl.set_compute(threads, precision)

    def fit(self, x=None, validation_data=None, epochs=None, callbacks=None, max_steps=None,
            checkpoint=None, verbose=1):
        """Trains on the file(s) x with crank's Trainer (as `crank train`); x and
        validation_data default to the configuration's data.train and data.eval. callbacks: callables
        cb(step, logs) called after every step (logs: loss, total_loss, epoch, batch_size);
        returning "stop" ends the run, raising ends it and fit re-raises. Ctrl-C stops after the
        current step with the checkpoint written, then raises KeyboardInterrupt. A model that
        has been trained continues for `epochs` more epochs (an interrupted epoch first).
        checkpoint: where the model is written (PATH and PATH.ckpt); default a temporary
        directory of this object. Returns a History."""
        raw = self._impl.fit(None if x is None else _files(x),
                             None if validation_data is None else _files(validation_data),
                             epochs, max_steps,
                             list(callbacks or []), str(checkpoint or ""), bool(verbose))
        return History(raw)

    def evaluate(self, x, rows="auto", batch_size=4096):
        """Metrics on labelled file(s) (as `crank eval`): dict auc, logloss, accuracy, ... (rmse,
        mae for ratings). rows: auto (the held-out rows when the data has a hold-out), all,
        train, eval."""
        return self._impl.evaluate(_files(x), rows, int(batch_size))

    def predict(self, x, batch_size=4096):
        """Predictions, numpy float32 (N,): for file(s) one per row in input order (as `crank
        predict`); for a dict of model-space numpy inputs (input_specs()) one per example. The
        array owns its buffer (no copy)."""
        if isinstance(x, dict):
            return self._impl.predict_inputs(x)
        return self._impl.predict_files(_files(x), int(batch_size))

    def train_step(self, inputs, labels=None, sample_weight=None):
        """One optimizer step on a batch of model-space numpy inputs (labels from `labels` or
        inputs["label"]); returns {"loss", "regularization_loss", "total_loss"} as TFRS."""
        return self._impl.train_step(inputs, labels, sample_weight)

    def batches(self, x, rows="auto", batch_size=None):
        """The batches crank's reader makes from file(s) x, as model-space dicts (with "label")."""
        return self._impl.batches(_files(x), rows, int(batch_size or self.config_batch_size()))

    def config_batch_size(self):
        for line in self._impl.config_yaml().splitlines():
            if line.strip().startswith("batch_size:"):
                return int(line.split(":")[1])
        return 512

    def save(self, path):
        """Writes the model (weights, optimizer state, configuration, data mapping) to path;
        crank.load and the CLI read it."""
        self._impl.save(str(path))

    def embedding_table(self, name):
        """A read-only numpy view (V, E) of feature `name`'s table: no copy; it keeps the model
        it came from alive, and shows train_step's updates. fit builds a new model: take a new
        view after fit."""
        return self._impl.embedding_table(name)

    def input_specs(self):
        """The model-space inputs: [(name, dtype, shape)], -1 for the batch size or nnz."""
        return self._impl.input_specs()

    @property
    def config_yaml(self):
        return self._impl.config_yaml()

    @property
    def state(self):
        return self._impl.state()

    def summary(self):
        return self._impl.summary()


def load(path):
    """A model written by Ranking.save, fit or `crank train` (with its stored configuration)."""
    return Ranking._wrap(_crank._Ranking.load(str(path)))


def info():
    """The compute setup of this process: threads, CPU ISA, GEMM backend, how idle OpenMP
    threads wait; "environment_applied": what crank set before loading OpenMP and OpenBLAS;
    "not_applied": what the CLI would set but this process cannot any more, with why."""
    d = dict(_crank._runtime_info())
    d["version"] = __version__
    d["environment_applied"] = dict(_APPLIED_ENVIRONMENT)
    return d


def set_log_level(level):
    """crank's log lines on stderr: "debug", "info" (default), "warning", "error"."""
    _crank._set_log_level(level)
