#ifndef CRANK_PYTHON_RUNTIME_H_
#define CRANK_PYTHON_RUNTIME_H_

// What crank.info() reports about the process's compute setup. The CLI re-executes itself with
// the environment OpenMP and OpenBLAS read at load time (startup/runtime_env.h); a Python
// process cannot, so crank/_startup.py sets that environment before the extension module (and
// with it libgomp and OpenBLAS) is loaded, and RuntimeInfo reports what the libraries run with
// and what is still recommended but can no longer take effect.

#include <pybind11/pybind11.h>

namespace crank::python {

namespace py = pybind11;

// {"threads", "cpu_isa", "gemm_backend", "bf16_supported", "openmp_wait",
//  "not_applied": [{"name", "value", "reason"}]}
py::dict RuntimeInfo();

}  // namespace crank::python

#endif  // CRANK_PYTHON_RUNTIME_H_
