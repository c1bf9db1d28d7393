#!/usr/bin/env python3
"""Throughput of crank from Python, one JSON line per measurement (bench/python_vs_cpp.sh
pairs it with the C++ programs).

  python_speed.py infer --threads 2 [--min-seconds 2.5]
      Ranking.predict on model-space numpy dicts at batch 2048, criteo-dlrm shape (26 tables of
      100,001 x 16, bottom 512-256-64-16, top 512-256-1, dot), the data of
      bench/train_throughput --modes=infer (dense uniform * 5, ids uniform in [0, 100000]).
  python_speed.py fit --train FILE --threads 2 [--batch-size N]
      Ranking.fit on FILE with the default model (as `crank train --train FILE`): the trainer's
      own examples/s (time in training steps, the hook's GIL round trip included).
"""

import argparse
import json
import sys
import time

import numpy as np

import crank


def infer(args):
    buckets = 100000
    model = crank.Ranking(hash_buckets=buckets, embedding_dim=16, bottom=[512, 256, 64, 16],
                          top=[512, 256, 1], seed=1)
    model.set_compute(threads=args.threads)
    rng = np.random.default_rng(1)
    names = [n for n, _, _ in model.input_specs()[1:]]
    batches = []
    for _ in range(8):
        b = {"dense": (rng.random((args.batch, 13), dtype=np.float32) * 5).astype(np.float32)}
        for n in names:
            b[n] = rng.integers(0, buckets + 1, size=args.batch, dtype=np.int64)
        batches.append(b)
    for b in batches:
        model.predict(b)  # warm-up: the workspace grows to the batch
    steps, t0 = 0, time.perf_counter()
    while True:
        model.predict(batches[steps % len(batches)])
        steps += 1
        elapsed = time.perf_counter() - t0
        if elapsed >= args.min_seconds:
            break
    print(json.dumps({"mode": "python_infer", "batch": args.batch, "threads": args.threads,
                      "examples_per_sec": round(steps * args.batch / elapsed, 1),
                      "steps": steps, "seconds": round(elapsed, 3)}))


def fit(args):
    crank.set_log_level("warning")
    model = crank.Ranking(batch_size=args.batch_size, seed=1)
    model.set_compute(threads=args.threads)
    h = model.fit(args.train, epochs=1, verbose=0)
    print(json.dumps({"mode": "python_fit", "batch": args.batch_size, "threads": args.threads,
                      "examples_per_sec": round(h.train_examples_per_sec, 1),
                      "train_seconds": round(h.train_seconds, 3), "steps": h.steps}))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["infer", "fit"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--batch", type=int, default=2048)
    p.add_argument("--batch-size", type=int, default=512)
    p.add_argument("--min-seconds", type=float, default=2.5)
    p.add_argument("--train")
    args = p.parse_args()
    infer(args) if args.mode == "infer" else fit(args)
    sys.stdout.flush()


if __name__ == "__main__":
    main()
