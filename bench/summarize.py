#!/usr/bin/env python3
"""Turns the raw results of bench/run.sh (results.jsonl, machine_limits.json, micro_t*.json in
one folder) into Markdown tables of medians, crank next to the PyTorch peer, and a check of the
performance targets. usage: summarize.py RESULTS_DIR"""
import collections
import glob, json, os, re, statistics, sys

TARGETS = {  # (config, batch, threads) -> minimum crank/torch training ratio
    ("criteo-dlrm", 128, 2): 3.0,
    ("criteo-dlrm", 2048, 2): 2.0,
}


def med(xs):
    xs = [x for x in xs if x is not None]
    return statistics.median(xs) if xs else None


def fmt(x, digits=0):
    if x is None:
        return "-"
    return f"{x:,.{digits}f}"


def verdict(value, ok):
    return "not measured" if value is None else ("met" if ok else "NOT met")


def ratio(a, b):
    return a / b if a and b else None


def paired_ratio(crank, torch, crank_key, torch_key):
    """Median over repeats of crank/torch, pairing the runs of the same repeat (they ran back
    to back, so they saw the same machine load); None without pairs."""
    by_rep = {r.get("rep"): r.get(torch_key) for r in torch}
    return med([ratio(r.get(crank_key), by_rep.get(r.get("rep"))) for r in crank])


def main():
    d = sys.argv[1] if len(sys.argv) > 1 else "."
    rows = []
    with open(os.path.join(d, "results.jsonl")) as f:
        for line in f:
            line = line.strip()
            if line:
                rows.append(json.loads(line))
    limits = {}
    if os.path.exists(os.path.join(d, "machine_limits.json")):
        with open(os.path.join(d, "machine_limits.json")) as f:
            limits = json.load(f)

    def select(**kw):
        """Rows with these fields. Rows of a variant, or of a crank GEMM precision / backend
        other than the defaults (fp32, auto), only when asked for."""
        kw.setdefault("variant", None)
        precision = kw.pop("precision", "fp32")
        backend = kw.pop("gemm_backend", "auto")
        return [r for r in rows if all(r.get(k) == v for k, v in kw.items())
                and r.get("precision", "fp32") == precision
                and r.get("gemm_backend", "auto") == backend]

    out = []
    p = out.append
    if limits:
        p("## Machine\n")
        p(f"- CPU: {limits.get('cpu')} ({limits.get('cores_online')} cores online); "
          f"BLAS: {limits.get('blas')}")
        isa = limits.get("isa", {})
        p("- ISA: " + ", ".join(k for k, v in isa.items() if v))
        for t, g in limits.get("gemm_peak_gflops", {}).items():
            p(f"- {t} thread(s): sgemm peak {g} GFLOP/s, FMA register peak "
              f"{limits.get('fma_register_peak_gflops', {}).get(t)} GFLOP/s, bf16 dot register "
              f"peak {(limits.get('bf16_dot_register_peak_gflops') or {}).get(t, '-')} GFLOP/s, "
              f"STREAM triad {limits.get('stream_triad_gbs', {}).get(t)} GB/s")
        p("")

    keys = sorted({(r["config"], r["batch"], r["threads"]) for r in select(benchmark="train")},
                  key=lambda k: (k[0], k[2], k[1]))
    reps = max([r.get("rep", 1) for r in rows] or [1])
    loads = [r["load1"] for r in rows if "load1" in r]
    p(f"## Training throughput (examples/s, median of {reps} runs)\n")
    p("crank/torch is the median of the per-repeat ratios (each crank run is followed by its "
      "peer run, so a pair sees the same machine load).\n")
    waits = collections.Counter(r["omp_wait_policy"] for r in rows
                                if r.get("benchmark") == "train" and "variant" not in r
                                and "omp_wait_policy" in r)
    policies = sorted(waits)
    p("OpenMP waiting (the same for both engines in a pair): " +
      ", ".join(f"{w} ({n} crank runs)" for w, n in sorted(waits.items())) + ".\n")
    if loads:
        p(f"1-minute load average during the runs: {min(loads):.1f} to {max(loads):.1f} "
          f"(median {statistics.median(loads):.1f}).\n")
    p("| config | batch | threads | crank ex/s | torch ex/s | crank/torch | crank GFLOP/s | "
      "% of GEMM peak |")
    p("|---|---:|---:|---:|---:|---:|---:|---:|")
    train_ratio = {}
    for cfg, b, t in keys:
        c = select(benchmark="train", config=cfg, batch=b, threads=t)
        tr = select(benchmark="peer", config=cfg, batch=b, threads=t)
        ce = med([r["examples_per_sec"] for r in c])
        te = med([r.get("train_examples_per_sec") for r in tr])
        gf = med([r["gflops"] for r in c])
        fr = med([r["fraction_of_gemm_peak"] for r in c])
        rr = paired_ratio(c, tr, "examples_per_sec", "train_examples_per_sec")
        train_ratio[(cfg, b, t)] = rr
        p(f"| {cfg} | {b} | {t} | {fmt(ce)} | {fmt(te)} | {fmt(rr, 2)} | {fmt(gf, 1)} "
          f"| {fmt(100 * fr if fr is not None else None, 0)}% |")
    p("")

    p("## Inference throughput at batch 2048 (examples/s, median; the peer measures it after "
      "its batch-2048 training run)\n")
    p("| config | threads | crank ex/s | torch ex/s | crank/torch | crank GFLOP/s |")
    p("|---|---:|---:|---:|---:|---:|")
    infer_ratio = {}
    for cfg, t in sorted({(r["config"], r["threads"]) for r in select(benchmark="infer")},
                         key=lambda k: (k[0], k[1])):
        c = select(benchmark="infer", config=cfg, threads=t)
        tr = select(benchmark="peer", config=cfg, threads=t, batch=2048)
        ce = med([r["examples_per_sec"] for r in c])
        te = med([r.get("inference_examples_per_sec") for r in tr])
        gf = med([r["gflops"] for r in c])
        rr = paired_ratio(c, tr, "examples_per_sec", "inference_examples_per_sec")
        infer_ratio[(cfg, t)] = rr
        p(f"| {cfg} | {t} | {fmt(ce)} | {fmt(te)} | {fmt(rr, 2)} | {fmt(gf, 1)} |")
    p("")

    lat = select(benchmark="latency")
    if lat:
        p("## Batch-1 inference latency (crank, microseconds, median over runs)\n")
        p("| config | threads | median | p99 |")
        p("|---|---:|---:|---:|")
        for cfg, t in sorted({(r["config"], r["threads"]) for r in lat}):
            s = select(benchmark="latency", config=cfg, threads=t)
            p(f"| {cfg} | {t} | {fmt(med([r['median_us'] for r in s]), 1)} | "
              f"{fmt(med([r['p99_us'] for r in s]), 1)} |")
        p("")

    spin = select(benchmark="train", variant="omp-default")
    if spin:
        p("## Two threads with libgomp's default wait policy (criteo-dlrm, one run each)\n")
        p(f"| batch | threads | {' / '.join(policies)} ex/s (median) | "
          "libgomp default ex/s |")
        p("|---:|---:|---:|---:|")
        for r in sorted(spin, key=lambda r: r["batch"]):
            base = med([x["examples_per_sec"] for x in select(benchmark="train", config=r["config"],
                                                                   batch=r["batch"], threads=r["threads"])])
            p(f"| {r['batch']} | {r['threads']} | {fmt(base)} | {fmt(r['examples_per_sec'])} |")
        p("")

    rd = select(benchmark="reader")
    if rd:
        p("## Training through the streaming reader (criteo-dlrm, generated Criteo TSV)\n")
        p("| batch | threads | in memory ex/s | streaming ex/s | reader overhead | file MB/s consumed |")
        p("|---:|---:|---:|---:|---:|---:|")
        for r in sorted(rd, key=lambda r: (r["threads"], r["batch"])):
            p(f"| {r['batch']} | {r['threads']} | {fmt(r['in_memory_examples_per_sec'])} | "
              f"{fmt(r['streaming_examples_per_sec'])} | {r['reader_overhead_pct']:.1f}% | "
              f"{r['streaming_mb_per_sec']:.1f} |")
        p("")

    mem = [r for r in rows if r["benchmark"] == "memory"]
    if mem:
        p("## Peak resident memory (criteo-dlrm, streaming reader)\n")
        p("| optimizers | batch | threads | peak RSS MB | start RSS MB | params MB | "
          "optimizer state MB | RSS - start - model, % of model |")
        p("|---|---:|---:|---:|---:|---:|---:|---:|")
        for r in sorted(mem, key=lambda r: (r["optimizers"], r["threads"], r["batch"])):
            p(f"| {r['optimizers']} | {r['batch']} | {r['threads']} | {r['peak_rss_bytes'] / 1e6:.0f} | "
              f"{r['baseline_rss_bytes'] / 1e6:.0f} | {r['param_bytes'] / 1e6:.0f} | "
              f"{r['optimizer_state_bytes'] / 1e6:.0f} | {r['overhead_over_model_pct']:.1f}% |")
        p("")

    micro = {}
    for path in sorted(glob.glob(os.path.join(d, "micro_t*.json"))):
        t = re.search(r"micro_t(\d+)\.json$", path).group(1)
        with open(path) as f:
            for bm in json.load(f).get("benchmarks", []):
                name = bm["name"].replace("/real_time", "").replace("BM_", "")
                micro.setdefault(name, {})[t] = bm
    if micro:
        threads = sorted({t for v in micro.values() for t in v}, key=int)
        p("## Kernel micro-benchmarks (time per call; rate)\n")
        p("| benchmark | " + " | ".join(f"{t} thread(s)" for t in threads) + " |")
        p("|---|" + "---:|" * len(threads))
        for name, per in micro.items():
            cells = []
            for t in threads:
                bm = per.get(t)
                if not bm:
                    cells.append("-")
                    continue
                us = bm["real_time"] * {"ns": 1e-3, "us": 1, "ms": 1e3, "s": 1e6}[bm["time_unit"]]
                if "FLOPS" in bm:
                    rate = f"{bm['FLOPS'] / 1e9:.1f} GFLOP/s"
                elif "bytes_per_second" in bm and ("Parser" in name or "Reader" in name):
                    rate = f"{bm['bytes_per_second'] / 1e6:.0f} MB/s"
                else:
                    rate = f"{bm.get('items_per_second', 0) / 1e6:.1f} M items/s"
                cells.append(f"{us:,.1f} us; {rate}")
            p(f"| {name} | " + " | ".join(cells) + " |")
        p("")

    def required(flops_per_example, peer_rate, factor, threads):
        """What factor x the peer's median rate would take: GFLOP/s and share of the peaks."""
        if not peer_rate or not flops_per_example:
            return ""
        gflops = factor * peer_rate * flops_per_example / 1e9
        sgemm = (limits.get("gemm_peak_gflops") or {}).get(str(threads))
        fma = (limits.get("fma_register_peak_gflops") or {}).get(str(threads))
        parts = [f"needs {gflops:.0f} GFLOP/s end to end"]
        if sgemm:
            parts.append(f"{100 * gflops / sgemm:.0f}% of the sgemm peak")
        if fma:
            parts.append(f"{100 * gflops / fma:.0f}% of the FMA register peak")
        return "; " + ", ".join(parts)

    p("## Targets\n")
    p("(\"needs\": the fp32 GEMM work of the target rate, factor x the peer's median rate, "
      "against this run's machine limits.)\n")
    for (cfg, b, t), need in TARGETS.items():
        got = train_ratio.get((cfg, b, t))
        c = select(benchmark="train", config=cfg, batch=b, threads=t)
        tr = med([r.get("train_examples_per_sec") for r in
                  select(benchmark="peer", config=cfg, batch=b, threads=t)])
        fpe = c[0]["flops_per_example"] if c else None
        p(f"- training {cfg} batch {b}, {t} threads: crank/torch {fmt(got, 2)} "
          f"(target >= {need}): {verdict(got, got is not None and got >= need)}"
          f"{required(fpe, tr, need, t)}")
    got = infer_ratio.get(("criteo-dlrm", 2))
    ci = select(benchmark="infer", config="criteo-dlrm", threads=2)
    ti = med([r.get("inference_examples_per_sec") for r in
              select(benchmark="peer", config="criteo-dlrm", batch=2048, threads=2)])
    p(f"- inference criteo-dlrm batch 2048, 2 threads: crank/torch {fmt(got, 2)} (target >= 3): "
      f"{verdict(got, got is not None and got >= 3)}"
      f"{required(ci[0]['flops_per_example'] if ci else None, ti, 3, 2)}")
    for t in ("1", "2"):
        fr = med([r["fraction_of_gemm_peak"] for r in select(benchmark="train", batch=2048,
                                                             config="criteo-dlrm", threads=int(t))])
        if fr is not None:
            p(f"- criteo-dlrm training at batch 2048, {t} thread(s): {100 * fr:.0f}% of GEMM peak "
              f"(target >= 50%): {'met' if fr >= 0.5 else 'NOT met'}")
    parser = [per.get("1") for n, per in micro.items() if n.startswith("CriteoBufferParser")]
    if parser and parser[0]:
        mbs = parser[0]["bytes_per_second"] / 1e6
        p(f"- Criteo parser, one core: {mbs:.0f} MB/s (target >= 150): "
          f"{'met' if mbs >= 150 else 'NOT met'}")
    for r in rd:
        p(f"- reader overhead, batch {r['batch']}, {r['threads']} thread(s): "
          f"{r['reader_overhead_pct']:.1f}% (target < 10%): "
          f"{'met' if r['reader_overhead_pct'] < 10 else 'NOT met'}")
    for r in mem:
        model = r["param_bytes"] + r["optimizer_state_bytes"]
        limit = 1.25 * model + r["baseline_rss_bytes"]
        p(f"- peak memory ({r['optimizers']}, batch {r['batch']}, {r['threads']} thread(s)): "
          f"{r['peak_rss_bytes'] / 1e6:.0f} MB vs params + state + 25% + start "
          f"{limit / 1e6:.0f} MB: {'met' if r['peak_rss_bytes'] <= limit else 'NOT met'}")
    print("\n".join(out))


if __name__ == "__main__":
    main()
