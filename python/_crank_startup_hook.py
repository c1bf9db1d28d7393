"""Interpreter start-up hook of the crank package, run by crank-startup.pth.

`pip install` puts crank-startup.pth next to the package in site-packages, and Python runs it
when it starts, before any other module is imported. It applies crank's compute environment
(crank/_startup.py: how idle OpenMP workers wait, the OpenBLAS core type) to os.environ, so the
settings hold even when numpy, which loads libgomp and OpenBLAS, is imported before crank, as in
most notebooks. It only sets variables the user has not set, imports neither crank nor numpy,
and looks at the machine's load once instead of sampling it for 20 ms. Set CRANK_NO_STARTUP_HOOK
to turn it off.
"""


APPLIED = {}  # what run() set, for crank.info()["environment_applied"]


def run():
    import importlib.util
    import os

    if os.environ.get("CRANK_NO_STARTUP_HOOK"):
        return {}
    package = importlib.util.find_spec("crank")  # locates the package without importing it
    if package is None or not package.submodule_search_locations:
        return {}
    path = os.path.join(list(package.submodule_search_locations)[0], "_startup.py")
    spec = importlib.util.spec_from_file_location("_crank_startup_at_start", path)
    if spec is None or spec.loader is None:
        return {}
    startup = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(startup)
    APPLIED.update(startup.prepare(samples=1))
    return APPLIED
