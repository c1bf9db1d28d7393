#!/usr/bin/env python3
"""A/B of `crank serve` builds under wrk, in interleaved pairs (docs/serving.md, Performance).

usage: serve_ab.py WORK SECONDS PAIRS THREADS LABEL=BUILD_DIR [LABEL=BUILD_DIR ...]

WORK holds m.crank and rows.tsv (unlabelled Criteo rows), as bench/serve_bench.sh makes them.
Each BUILD_DIR needs bin/crank; with bin/serve_predict the in-process costs are measured too.
For each mode (dynamic batching: --max-batch 512 --max-queue-delay-us 500; none: --max-batch
0) one server per build runs THREADS inference workers; wrk runs 100-row requests at 8
connections and 1-row requests at 1 connection against the builds in turn, PAIRS rounds of
SECONDS each (the order rotates every round). Printed: medians of rows/s, p50, the server
process's and wrk's CPU time per request (user + system; they move less than rows/s with what
else the machine runs, though not nothing) per build, and the median over rounds of each build's rows/s over
the first build's. Then serve_predict at
batch 100 (THREADS threads), build after build, PAIRS rounds, medians.
"""
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import time

work, seconds, pairs, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
builds = [a.split("=", 1) for a in sys.argv[5:]]

for n in (1, 100):
    rows = open(f"{work}/rows.tsv").read().splitlines()[:n]
    with open(f"{work}/body{n}.json", "w") as f:
        json.dump({"inputs": [{"name": "rows", "datatype": "BYTES", "shape": [n], "data": rows}]},
                  f)
    with open(f"{work}/post{n}.lua", "w") as f:
        f.write('wrk.method = "POST"\nwrk.headers["Content-Type"] = "application/json"\n'
                f'local f = io.open("{work}/body{n}.json")\nwrk.body = f:read("*a")\nf:close()\n')


def start(build, name, flags):
    log_path = f"{work}/{name}.log"
    p = subprocess.Popen([f"{build}/bin/crank", "serve", "--model", f"{work}/m.crank", "--port",
                          "0", "--threads", threads] + flags, stderr=open(log_path, "w"))
    for _ in range(1000):
        m = re.search(r"http://127\.0\.0\.1:(\d+)", open(log_path).read())
        if m:
            return p, int(m.group(1))
        time.sleep(0.02)
    raise SystemExit(f"{name} did not start: " + open(log_path).read())


def ms(label, out):
    m = re.search(r"^\s+%s\s+([\d.]+)(us|ms|s)\s*$" % label, out, re.M)
    v, u = float(m.group(1)), m.group(2)
    return v / 1000 if u == "us" else v * 1000 if u == "s" else v


def cpu_seconds(pid):
    """User + system CPU time of process `pid` so far."""
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wrk(server, rows, conns):
    """rows/s, p50 ms, and the server's CPU microseconds per request (robust to other load)."""
    proc, port = server
    cpu = cpu_seconds(proc.pid)
    ru = resource.getrusage(resource.RUSAGE_CHILDREN)
    out = subprocess.run(
        ["wrk", f"-t{1 if conns < 2 else 2}", f"-c{conns}", f"-d{seconds}s", "--timeout", "5s",
         "--latency", "-s", f"{work}/post{rows}.lua",
         f"http://127.0.0.1:{port}/v2/models/m/infer"],
        capture_output=True, text=True, check=True).stdout
    if "Non-2xx" in out or "Socket errors" in out:
        print("wrk reported errors:", out, file=sys.stderr)
    requests = int(re.search(r"(\d+) requests in", out).group(1))
    cpu_us = 1e6 * (cpu_seconds(proc.pid) - cpu) / max(requests, 1)
    ru2 = resource.getrusage(resource.RUSAGE_CHILDREN)
    wrk_us = 1e6 * (ru2.ru_utime + ru2.ru_stime - ru.ru_utime - ru.ru_stime) / max(requests, 1)
    return (float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1)) * rows, ms("50%", out),
            cpu_us, wrk_us)


modes = {"batching": ["--max-batch", "512", "--max-queue-delay-us", "500"],
         "none": ["--max-batch", "0"]}
servers = {}
try:
    for mode, flags in modes.items():
        for label, build in builds:
            servers[mode, label] = start(build, f"{label}-{mode}", flags)
    print(f"wrk, {pairs} interleaved rounds of {seconds} s, {threads} inference workers")
    print("| mode | rows x connections | " +
          " | ".join(f"{l} rows/s | {l} p50 ms | {l} server CPU us/request | {l} wrk CPU us/request"
                     for l, _ in builds) +
          " | " +
          " | ".join(f"{l} / {builds[0][0]}" for l, _ in builds[1:]) + " |")
    for rows, conns in [(100, 8), (1, 1)]:
        for mode in modes:
            runs = {label: [] for label, _ in builds}
            for r in range(pairs):
                order = builds[r % len(builds):] + builds[:r % len(builds)]
                for label, _ in order:
                    runs[label].append(wrk(servers[mode, label], rows, conns))
            first = runs[builds[0][0]]
            cells = [f"{statistics.median(x[0] for x in runs[l]):.0f} | "
                     f"{statistics.median(x[1] for x in runs[l]):.3f} | "
                     f"{statistics.median(x[2] for x in runs[l]):.0f} | "
                     f"{statistics.median(x[3] for x in runs[l]):.0f}" for l, _ in builds]
            ratios = [f"{statistics.median(a[0] / b[0] for a, b in zip(runs[l], first)):.2f}x"
                      for l, _ in builds[1:]]
            print(f"| {mode} | {rows} x {conns} | " + " | ".join(cells) + " | " +
                  " | ".join(ratios) + " |", flush=True)
finally:
    for p, _ in servers.values():
        p.terminate()
        p.wait()

inproc = [(l, b) for l, b in builds
          if subprocess.run(["test", "-x", f"{b}/bin/serve_predict"]).returncode == 0]
if inproc:
    print(f"\nin process, batch 100, {threads} threads (bench/serve_predict.cc), {pairs} rounds:")
    keys = ["predict_rows_per_s", "predict_us", "parse_json_us", "map_rows_us",
            "infer_without_http_us", "infer_without_http_rows_per_s", "predict_cpu_us",
            "parse_json_cpu_us", "map_rows_cpu_us"]
    res = {l: [] for l, _ in inproc}
    for r in range(pairs):
        for label, build in inproc:
            out = subprocess.run([f"{build}/bin/serve_predict", f"{work}/m.crank",
                                  f"{work}/rows.tsv", "100", "2", threads],
                                 capture_output=True, text=True, check=True).stdout
            res[label].append(json.loads(out))
    print("| build | " + " | ".join(keys) + " |")
    for label, _ in inproc:
        print(f"| {label} | " + " | ".join(
            f"{statistics.median(x.get(k, float('nan')) for x in res[label]):.1f}"
            for k in keys) + " |")
