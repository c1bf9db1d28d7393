#include "runtime.h"

#include <string>
#include <thread>

#include "crank/kernels/gemm.h"
#include "crank/startup/runtime_env.h"

namespace crank::python {

py::dict RuntimeInfo() {
  __builtin_cpu_init();
  const char* isa = __builtin_cpu_supports("avx512bf16") ? "AVX-512 with BF16"
                    : __builtin_cpu_supports("avx512f")  ? "AVX-512"
                    : __builtin_cpu_supports("avx2")     ? "AVX2"
                                                         : "SSE";
  py::dict d;
  d["threads"] = static_cast<int>(std::thread::hardware_concurrency());
  d["cpu_isa"] = isa;
  d["gemm_backend"] = GemmBackendDescription();
  d["bf16_supported"] = Bf16Supported();
  d["openmp_wait"] = OpenMpWaitDescription();
  // What the CLI would still set now: in this process the libraries have already read their
  // environment, so none of it can take effect any more.
  py::list not_applied;
  for (const auto& [name, value] : RecommendedRuntimeEnvironment()) {
    // GLIBC_TUNABLES is read when the process starts, before any hook could set it: a
    // speed-only setting of the CLI that a Python process does without.
    if (name == "CRANK_RUNTIME_ENV" || name == "GLIBC_TUNABLES") continue;
    py::dict e;
    e["name"] = name;
    e["value"] = value;
    e["reason"] =
        "read by the library when it is loaded, which happened before crank was imported "
        "(another module loaded it first); set it in the environment before starting Python";
    not_applied.append(e);
  }
  d["not_applied"] = not_applied;
  return d;
}

}  // namespace crank::python
