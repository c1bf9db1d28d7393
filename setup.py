"""Builds the extension module crank._crank with CMake for `pip install` (pyproject.toml).

The CMake build goes to build-python/ (CRANK_PYTHON_BUILD_DIR overrides it) without tests and
builds only the target crank_python; the module is copied into the package.
"""

import os
import pathlib
import shutil
import subprocess
import sys

from setuptools import Extension, setup
from setuptools.command.build_ext import build_ext
from setuptools.command.build_py import build_py

ROOT = pathlib.Path(__file__).resolve().parent


class CMakeExtension(Extension):
    def __init__(self, name):
        super().__init__(name, sources=[])


class CMakeBuild(build_ext):
    def build_extension(self, ext):
        build_dir = pathlib.Path(os.environ.get("CRANK_PYTHON_BUILD_DIR", ROOT / "build-python"))
        subprocess.check_call([
            "cmake", "-S", str(ROOT), "-B", str(build_dir), "-G", "Ninja",
            "-DCMAKE_BUILD_TYPE=Release", "-DCRANK_BUILD_TESTS=OFF", "-DCRANK_BUILD_PYTHON=ON",
            "-DPython3_EXECUTABLE=" + sys.executable])
        jobs = os.environ.get("CRANK_BUILD_JOBS", str(os.cpu_count() or 1))
        subprocess.check_call(["cmake", "--build", str(build_dir), "--target", "crank_python",
                               "-j", jobs])
        built = sorted((build_dir / "python" / "crank").glob("_crank*.so"))
        if not built:
            raise RuntimeError("the CMake build made no crank/_crank*.so in %s" % build_dir)
        dest = pathlib.Path(self.get_ext_fullpath(ext.name))
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(built[-1], dest)


class BuildPyWithStartupHook(build_py):
    """Also installs crank-startup.pth at the top of site-packages: Python runs it at start-up
    (python/_crank_startup_hook.py), so crank's OpenMP settings hold even when numpy is
    imported first."""

    def run(self):
        super().run()
        self.copy_file(str(ROOT / "python" / "crank-startup.pth"),
                       os.path.join(self.build_lib, "crank-startup.pth"))


(ROOT / "build-python").mkdir(exist_ok=True)
setup(ext_modules=[CMakeExtension("crank._crank")],
      cmdclass={"build_ext": CMakeBuild, "build_py": BuildPyWithStartupHook},
      # setuptools' own build folders stay out of the CMake build folder build/.
      options={"build": {"build_base": "build-python/setuptools"},
               "egg_info": {"egg_base": "build-python"}})
