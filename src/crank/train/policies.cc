#include "crank/train/policies.h"

#include <cmath>

namespace crank {

EarlyStopping::EarlyStopping(int64_t patience, bool higher_is_better)
    : patience_(patience), higher_is_better_(higher_is_better), best_(NAN) {}

bool EarlyStopping::Observe(const MetricMap& metrics) {
  const auto it = metrics.find(metric_name());
  const double value = it == metrics.end() ? NAN : it->second;
  if (std::isnan(best_) || (higher_is_better_ ? value > best_ : value < best_)) {
    best_ = value;
    since_best_ = 0;
    return false;
  }
  ++since_best_;
  return patience_ > 0 && since_best_ >= patience_;
}

}  // namespace crank
