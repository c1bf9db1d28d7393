"""The compute environment, set before the extension module loads OpenMP and OpenBLAS.

libgomp and OpenBLAS read their settings from the environment once, when the process loads
them. The CLI therefore runs itself again with the settings it wants (ReexecWithRuntimeEnvironment
in src/crank/startup/runtime_env.h); a Python process cannot be re-executed, so this module
applies the same policy to os.environ before crank._crank (and with it libgomp and OpenBLAS) is
loaded:

- how idle OpenMP workers wait: GOMP_SPINCOUNT=1000 when no other task is runnable at start,
  else OMP_WAIT_POLICY=passive; the user's own OMP_WAIT_POLICY or GOMP_SPINCOUNT win;
- OPENBLAS_CORETYPE on CPUs with AVX-512 (SkylakeX, Cooperlake with AVX512-BF16): the CLI sets
  it only when the OpenBLAS it loaded chose narrower kernels; here it must be chosen before
  OpenBLAS is loaded, so it is set on every AVX-512 CPU (where OpenBLAS recognises the CPU it
  picks these kernels anyway).

A library that another module loaded first keeps its settings: crank.info() lists what could not
be applied (its "not_applied"). Installed with pip, the package also runs prepare() when Python
starts (crank-startup.pth, _crank_startup_hook.py), before numpy or anything else can load them.
"""

import os
import time

IDLE_SPIN_COUNT = 1000  # kIdleSpinCount of startup/runtime_env.h
MARKER = "CRANK_RUNTIME_ENV"  # read by OpenMpWaitDescription() to say why


def _procs_running():
    try:
        with open("/proc/stat") as f:
            for line in f:
                if line.startswith("procs_running"):
                    return int(line.split()[1])
    except (OSError, ValueError, IndexError):
        pass
    return -1


def _other_runnable_tasks(count=5):
    """Median of count samples 4 ms apart, less this process (OtherRunnableTasks())."""
    samples = []
    for i in range(count):
        s = _procs_running()
        if s < 0:
            return -1
        samples.append(s)
        if i + 1 < count:
            time.sleep(0.004)
    return max(0, sorted(samples)[len(samples) // 2] - 1)


def _loaded(library):
    try:
        with open("/proc/self/maps") as f:
            return any(library in line for line in f)
    except OSError:
        return False


def _cpu_flags():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def prepare(samples=5):
    """Sets the environment; returns {name: value} of what it set. samples: readings of the
    machine's load (5, 4 ms apart, as the CLI; the start-up hook reads it once)."""
    applied = {}
    if MARKER in os.environ:  # started by a process that already chose (the CLI, a parent)
        return applied
    if "OPENBLAS_CORETYPE" not in os.environ and not _loaded("libopenblas"):
        flags = _cpu_flags()
        if {"avx512f", "avx512bw", "avx512vl", "avx512dq"} <= flags:
            applied["OPENBLAS_CORETYPE"] = "Cooperlake" if "avx512_bf16" in flags else "SkylakeX"
    if ("OMP_WAIT_POLICY" not in os.environ and "GOMP_SPINCOUNT" not in os.environ
            and not _loaded("libgomp")):
        others = _other_runnable_tasks(samples)
        if others == 0:
            applied["GOMP_SPINCOUNT"] = str(IDLE_SPIN_COUNT)
            applied[MARKER] = "idle:0"
        else:
            applied["OMP_WAIT_POLICY"] = "passive"
            applied[MARKER] = "unknown" if others < 0 else "busy:%d" % others
    os.environ.update(applied)
    return applied
