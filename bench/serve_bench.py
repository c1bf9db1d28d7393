#!/usr/bin/env python3
"""The serving table of docs/serving.md (bench/serve_bench.sh runs it).

Two `crank serve` processes on 127.0.0.1 serve the same model, one with dynamic batching
(--max-batch 512 --max-queue-delay-us 500) and one without (--max-batch 0). For each load
(1-row requests at 1, 8 and 64 connections; 100-row requests at 1 and 8) wrk runs against the
two servers alternately, REPEATS pairs, each run SECONDS long with a 5 s request timeout.
Printed: medians over the pairs of p50, p99 and rows/s per server, and the median of the
paired rows/s ratios (batching / none).

usage: serve_bench.py CRANK WORK_DIR SECONDS REPEATS THREADS
"""
import re
import statistics
import subprocess
import sys
import time

crank, work, seconds, repeats, threads = sys.argv[1], sys.argv[2], sys.argv[3], int(
    sys.argv[4]), sys.argv[5]


def start(name, flags):
    log = open(f"{work}/{name}.log", "w")
    p = subprocess.Popen([crank, "serve", "--model", f"{work}/m.crank", "--port", "0",
                          "--threads", threads] + flags, stderr=log)
    for _ in range(1000):
        m = re.search(r"http://127\.0\.0\.1:(\d+)", open(f"{work}/{name}.log").read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.02)
    raise SystemExit(f"{name} did not start: " + open(f"{work}/{name}.log").read())


def ms(label, out):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v


def wrk(port, rows, conns):
    """rows > 0: POST rows-row inference requests; rows == 0: GET /v2/health/ready (HTTP only)."""
    target = ["-s", f"{work}/post{rows}.lua", f"http://127.0.0.1:{port}/v2/models/m/infer"]
    if rows == 0:
        target = [f"http://127.0.0.1:{port}/v2/health/ready"]
    out = subprocess.run(
        ["wrk", f"-t{1 if conns < 2 else 2}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
         "--latency"] + target,
        capture_output=True, text=True, check=True).stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    errors = re.search(r"Socket errors: (.*)", out)
    return {"p50": ms("50%", out), "p99": ms("99%", out), "rows": rps * max(rows, 1),
            "bad": int(bad.group(1)) if bad else 0, "errors": errors.group(1) if errors else ""}


servers = {"on": start("on", ["--max-batch", "512", "--max-queue-delay-us", "500"]),
           "off": start("off", ["--max-batch", "0"])}
try:
    print(f"wrk, {repeats} alternating pairs of {seconds} s runs per line; medians; "
          f"{threads} inference workers")
    print("| rows/request | connections | batching p50 ms | p99 ms | rows/s | "
          "no batching p50 ms | p99 ms | rows/s | rows/s ratio (median of pairs) |")
    print("|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    for rows, conns in [(1, 1), (1, 8), (1, 64), (100, 1), (100, 8)]:
        runs = {"on": [], "off": []}
        for _ in range(repeats):
            for mode in ("on", "off"):
                runs[mode].append(wrk(servers[mode][1], rows, conns))
        med = {m: {k: statistics.median(r[k] for r in runs[m]) for k in ("p50", "p99", "rows")}
               for m in runs}
        ratio = statistics.median(a["rows"] / b["rows"] for a, b in zip(runs["on"], runs["off"]))
        bad = sum(r["bad"] for m in runs for r in runs[m])
        print(f"| {rows} | {conns} | {med['on']['p50']:.3f} | {med['on']['p99']:.2f} | "
              f"{med['on']['rows']:.0f} | {med['off']['p50']:.3f} | {med['off']['p99']:.2f} | "
              f"{med['off']['rows']:.0f} | {ratio:.2f}x |" + (f" non-2xx: {bad}" if bad else ""))
    # The ceiling for 1-row requests: the same server and wrk answering a request that does no
    # inference and no JSON (the readiness probe). No batching can take 1-row requests past it.
    ceiling = [wrk(servers["on"][1], 0, 64) for _ in range(repeats)]
    print(f"| HTTP only: GET /v2/health/ready | 64 | "
          f"{statistics.median(r['p50'] for r in ceiling):.3f} | "
          f"{statistics.median(r['p99'] for r in ceiling):.2f} | "
          f"{statistics.median(r['rows'] for r in ceiling):.0f} requests/s | | | | |")
finally:
    for p, _ in servers.values():
        p.terminate()
        p.wait()
