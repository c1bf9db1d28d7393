#!/usr/bin/env python3
"""One-lever changes of a tuned configuration, trained directly (docs/tune.md, "Levers outside
the space").

usage: tune_levers.py BEST.yaml OUTDIR SEED LEVER [LEVER ...]

For each LEVER (a name below, or "base" for none): BEST.yaml (a `crank tune --out` file) with
that one change and train.seed SEED, trained by `crank train --config` (CRANK, default
build/bin/crank); prints one tab-separated line: lever, seed, the AUC of the kept model, then
the AUC of every evaluation. Needs PyYAML.
"""
import json
import os
import subprocess
import sys

import yaml

here = os.path.dirname(os.path.abspath(__file__))
CRANK = os.environ.get("CRANK", os.path.join(here, "..", "build", "bin", "crank"))


def decay(steps):  # embedding rate: linear from its peak to the schedule's floor over `steps`
    return {"schedule": "warmup_poly_decay",
            "warmup": {"batch_size": 2048, "decay_exp": 1, "warmup_steps": 1,
                       "decay_steps": steps, "decay_start_steps": 0}}


def lever(c, name):
    m, e, d = c["model"], c["optimizer"]["embedding"], c["optimizer"]["dense"]
    changes = {
        "base": lambda: None,
        "top1024": lambda: m.update(top=[1024, 512, 1]),
        "top256": lambda: m.update(top=[256, 128, 1]),
        "top4": lambda: m.update(top=[512, 256, 128, 1]),
        "top2": lambda: m.update(top=[256, 1]),
        "acc0.1": lambda: e.update(initial_accumulator_value=0.1),
        "rowwise": lambda: e.update(kind="rowwise_adagrad"),
        "eeps1e-3": lambda: e.update(epsilon=1e-3),
        "edecay391": lambda: e.update(decay(391)),
        "edecay782": lambda: e.update(decay(782)),
        "edecay1173": lambda: e.update(decay(1173)),
        "deps1e-4": lambda: d.update(epsilon=1e-4),
        "db1_0.8": lambda: d.update(beta_1=0.8),
        "db2_0.99": lambda: d.update(beta_2=0.99),
        "dl2_1e-5": lambda: m.update(dense_l2=1e-5),
        "dim64": lambda: (m.update(embedding_dim=64), m["bottom"].__setitem__(-1, 64)),
        "mc20": lambda: c["data"]["criteo"]["vocabulary"].update(min_count=20),
        "xnobias": lambda: m["cross"].update(use_bias=False),
        "diag1": lambda: m["cross"].update(diag_scale=1.0),
        "eval2": lambda: c["train"].update(eval_every=196),
        "eval4": lambda: c["train"].update(eval_every=98, early_stopping_patience=2),
    }
    changes[name]()


def main():
    best, out, seed, levers = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4:]
    for name in levers:
        c = yaml.safe_load(open(best))
        c["train"]["seed"] = seed
        lever(c, name)
        d = os.path.join(out, "%s_%d" % (name, seed))
        os.makedirs(d, exist_ok=True)
        yaml.safe_dump(c, open(os.path.join(d, "config.yaml"), "w"), sort_keys=False)
        r = subprocess.run([CRANK, "-q", "train", "--config", os.path.join(d, "config.yaml"),
                            "--model-out", os.path.join(d, "model.crank"),
                            "--metrics-out", os.path.join(d, "metrics.json")],
                           capture_output=True, text=True)
        if r.returncode != 0:
            print("%s\t%d\tfailed: %s" % (name, seed, r.stderr.strip()[-200:]), flush=True)
            continue
        j = json.load(open(os.path.join(d, "metrics.json")))
        history = ",".join("%.5f" % h["metrics"]["auc"] for h in j["history"])
        print("%s\t%d\t%.5f\t%s" % (name, seed, j["auc"], history), flush=True)
        os.remove(os.path.join(d, "model.crank"))


if __name__ == "__main__":
    main()
