#include "crank/layers/initializers.h"

#include <cmath>

#include "crank/base/error.h"

namespace crank {

double GlorotUniformLimit(int64_t fan_in, int64_t fan_out) {
  CRANK_REQUIRE(fan_in > 0 && fan_out > 0,
                "Glorot initialisation needs positive fans, got fan_in={} fan_out={}", fan_in,
                fan_out);
  return std::sqrt(6.0 / static_cast<double>(fan_in + fan_out));
}

void InitGlorotUniform(Tensor* w, Rng& rng) {
  CRANK_CHECK(w != nullptr);
  CRANK_REQUIRE(w->rank() == 1 || w->rank() == 2,
                "Glorot initialisation expects a (fan_in, fan_out) tensor, got shape {}",
                w->ShapeString());
  const int64_t fan_in = w->dim(0);
  const int64_t fan_out = w->rank() == 2 ? w->dim(1) : w->dim(0);
  const double limit = GlorotUniformLimit(fan_in, fan_out);
  float* p = w->data();
  for (int64_t i = 0; i < w->size(); ++i) {
    p[i] = static_cast<float>(limit * (2.0 * rng.UniformDouble() - 1.0));
  }
}

void InitTruncatedNormal(Tensor* w, double stddev, Rng& rng) {
  CRANK_CHECK(w != nullptr);
  CRANK_REQUIRE(stddev >= 0.0 && std::isfinite(stddev),
                "truncated-normal stddev must be finite and >= 0, got {}", stddev);
  float* p = w->data();
  for (int64_t i = 0; i < w->size(); ++i) p[i] = static_cast<float>(rng.TruncatedNormal(stddev));
}

}  // namespace crank
