#include "crank/kernels/compute_settings.h"

#include <omp.h>

#include "crank/base/error.h"

namespace crank {
namespace {

thread_local std::optional<GemmPrecision> t_precision;

}  // namespace

void ComputeSettings::Validate() const {
  CRANK_REQUIRE(threads >= 0,
                "compute settings: threads must be >= 0 (0 = the process default), "
                "got {}",
                threads);
}

ScopedComputeSettings::ScopedComputeSettings(const ComputeSettings& settings)
    : saved_threads_(0), saved_precision_(t_precision) {
  settings.Validate();
  if (settings.threads > 0) {
    saved_threads_ = omp_get_max_threads();
    omp_set_num_threads(settings.threads);
  }
  if (settings.precision.has_value()) t_precision = settings.precision;
}

ScopedComputeSettings::~ScopedComputeSettings() {
  if (saved_threads_ > 0) omp_set_num_threads(saved_threads_);
  t_precision = saved_precision_;
}

std::optional<GemmPrecision> ThreadGemmPrecision() { return t_precision; }

}  // namespace crank
