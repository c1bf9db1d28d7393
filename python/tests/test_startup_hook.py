"""The interpreter start-up hook (crank-startup.pth): crank's OpenMP settings hold when numpy is
imported before crank, as in most notebooks."""

import json
import os
import pathlib
import shutil
import subprocess
import sys

import crank

PACKAGE_DIR = pathlib.Path(crank.__file__).parent  # with the extension module: not resolved
SOURCE_PYTHON = pathlib.Path(__file__).resolve().parents[1]

PROBE = """
import json, site, sys
site.addsitedir(sys.argv[1])  # a site directory: its .pth files run, as at interpreter start
import numpy
maps = open("/proc/self/maps").read()
import crank
info = crank.info()
print(json.dumps({"numpy_loaded_libgomp": "libgomp" in maps, "not_applied": info["not_applied"],
                  "applied": info["environment_applied"], "wait": info["openmp_wait"]}))
"""


def site_dir(tmp_path):
    """A site-packages as `pip install` leaves it: the package, the hook module, the .pth."""
    site = tmp_path / "site-packages"
    site.mkdir()
    (site / "crank").symlink_to(PACKAGE_DIR, target_is_directory=True)
    for name in ("_crank_startup_hook.py", "crank-startup.pth"):
        shutil.copy(SOURCE_PYTHON / name, site / name)
    return site


def probe(site, **env_changes):
    env = {k: v for k, v in os.environ.items()
           if k not in ("PYTHONPATH", "OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "CRANK_RUNTIME_ENV",
                        "OPENBLAS_CORETYPE", "CRANK_NO_STARTUP_HOOK")}
    env.update(env_changes)
    r = subprocess.run([sys.executable, "-c", PROBE, str(site)], capture_output=True, text=True,
                       env=env, timeout=120)
    assert r.returncode == 0, r.stderr
    return json.loads(r.stdout.strip().splitlines()[-1])


def test_the_hook_applies_the_settings_before_numpy_loads_openmp(tmp_path):
    out = probe(site_dir(tmp_path))
    assert out["not_applied"] == [], out
    assert "GOMP_SPINCOUNT" in out["applied"] or "OMP_WAIT_POLICY" in out["applied"], out
    if "GOMP_SPINCOUNT" in out["applied"]:
        assert "spin 1000 rounds" in out["wait"], out


def test_without_the_hook_numpy_first_leaves_the_settings_unapplied(tmp_path):
    out = probe(site_dir(tmp_path), CRANK_NO_STARTUP_HOOK="1")
    if out["numpy_loaded_libgomp"]:  # Debian's numpy on the OpenMP build of OpenBLAS
        assert [e["name"] for e in out["not_applied"]], out
        assert out["applied"] == {}, out
    else:
        assert out["not_applied"] == [], out


def test_the_users_own_setting_wins(tmp_path):
    out = probe(site_dir(tmp_path), OMP_WAIT_POLICY="active")
    assert "OMP_WAIT_POLICY" not in out["applied"] and "GOMP_SPINCOUNT" not in out["applied"], out


def test_pip_installs_the_hook_beside_the_package(tmp_path):
    source = SOURCE_PYTHON.parent
    r = subprocess.run([sys.executable, "setup.py", "-q", "build_py", "--build-lib",
                        str(tmp_path / "lib")], cwd=source, capture_output=True, text=True,
                       timeout=120)
    assert r.returncode == 0, r.stderr
    for name in ("crank-startup.pth", "_crank_startup_hook.py", "crank/__init__.py",
                 "crank/_startup.py"):
        assert (tmp_path / "lib" / name).is_file(), name
