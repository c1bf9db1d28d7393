#include "crank/startup/runtime_env.h"

#include <cblas.h>
#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <thread>

namespace crank {
namespace {

// Set in the re-executed process: why its OpenMP waiting was chosen ("idle:0", "busy:N",
// "unknown"), for OpenMpWaitDescription().
constexpr char kMarker[] = "CRANK_RUNTIME_ENV";

int ProcsRunning() {
  std::ifstream in("/proc/stat");
  std::string key;
  while (in >> key) {
    if (key == "procs_running") {
      int n = -1;
      in >> n;
      return n;
    }
    in.ignore(1 << 20, '\n');
  }
  return -1;
}

}  // namespace

int OtherRunnableTasks() {
  int samples[5];
  for (int& s : samples) {
    s = ProcsRunning();
    if (s < 0) return -1;
    std::this_thread::sleep_for(std::chrono::milliseconds(4));
  }
  std::sort(std::begin(samples), std::end(samples));
  return std::max(0, samples[2] - 1);  // less this process, which is running while it reads
}

std::vector<std::pair<std::string, std::string>> RecommendedRuntimeEnvironment() {
  std::vector<std::pair<std::string, std::string>> env;
  if (std::getenv("OPENBLAS_CORETYPE") == nullptr) {
    __builtin_cpu_init();
    const bool avx512 = __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
                        __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq");
    const std::string core = openblas_get_corename();
    const bool avx512_core = core == "SkylakeX" || core == "Cooperlake" ||
                             core == "SapphireRapids" || core == "skylakex" ||
                             core == "cooperlake" || core == "sapphirerapids";
    if (avx512 && !avx512_core) {
      env.emplace_back("OPENBLAS_CORETYPE",
                       __builtin_cpu_supports("avx512bf16") ? "Cooperlake" : "SkylakeX");
    }
  }
  if (std::getenv("GLIBC_TUNABLES") == nullptr) env.emplace_back("GLIBC_TUNABLES", kMallocTunables);
  if (std::getenv("OMP_WAIT_POLICY") == nullptr && std::getenv("GOMP_SPINCOUNT") == nullptr) {
    const int others = OtherRunnableTasks();
    if (others == 0) {
      env.emplace_back("GOMP_SPINCOUNT", std::to_string(kIdleSpinCount));
      env.emplace_back(kMarker, "idle:0");
    } else {
      env.emplace_back("OMP_WAIT_POLICY", "passive");
      env.emplace_back(kMarker, others < 0 ? "unknown" : fmt::format("busy:{}", others));
    }
  }
  return env;
}

void ReexecWithRuntimeEnvironment(char** argv) {
  if (std::getenv(kMarker) != nullptr) return;
  const auto env = RecommendedRuntimeEnvironment();
  if (env.empty()) return;
  for (const auto& [name, value] : env) setenv(name.c_str(), value.c_str(), 1);
  if (std::getenv(kMarker) == nullptr) setenv(kMarker, "user", 1);
  execv("/proc/self/exe", argv);
}

std::string OpenMpWaitDescription() {
  const char* policy = std::getenv("OMP_WAIT_POLICY");
  const char* spin = std::getenv("GOMP_SPINCOUNT");
  const char* marker = std::getenv(kMarker);
  const std::string why = marker ? marker : "";
  if (why.rfind("idle", 0) == 0 && spin != nullptr && policy == nullptr) {
    return fmt::format("spin {} rounds, then sleep (GOMP_SPINCOUNT; machine idle at start)", spin);
  }
  if ((why.rfind("busy", 0) == 0 || why == "unknown") && policy != nullptr && spin == nullptr) {
    const std::string count = why == "unknown"
                                  ? "machine load unknown"
                                  : fmt::format("{} other runnable tasks at start", why.substr(5));
    return fmt::format("sleep at once (OMP_WAIT_POLICY=passive; {})", count);
  }
  std::string set;
  if (policy != nullptr) set += fmt::format("OMP_WAIT_POLICY={}", policy);
  if (spin != nullptr) set += fmt::format("{}GOMP_SPINCOUNT={}", set.empty() ? "" : " ", spin);
  if (set.empty()) return "libgomp default (spin about 300000 rounds, then sleep)";
  return set + " (set by the user)";
}

}  // namespace crank
