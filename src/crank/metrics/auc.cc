#include "crank/metrics/auc.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "crank/base/error.h"

namespace crank {

void Auc::Update(const float* predictions, const float* labels, const float* weights, int64_t n) {
  entries_.reserve(entries_.size() + static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float w = weights != nullptr ? weights[i] : 1.0f;
    if (w == 0.0f) continue;
    if (std::isnan(predictions[i])) has_nan_ = true;
    entries_.push_back({predictions[i], w, labels[i] > 0.5f});
  }
}

void Auc::Merge(const Auc& other) {
  if (&other == this) {
    const Auc copy = other;
    Merge(copy);
    return;
  }
  entries_.insert(entries_.end(), other.entries_.begin(), other.entries_.end());
  has_nan_ = has_nan_ || other.has_nan_;
}

void Auc::AppendTo(std::string* out) const {
  const uint64_t n = entries_.size();
  const uint8_t nan = has_nan_ ? 1 : 0;
  out->append(reinterpret_cast<const char*>(&n), sizeof(n));
  out->append(reinterpret_cast<const char*>(&nan), 1);
  for (const Entry& e : entries_) {
    const uint8_t pos = e.positive ? 1 : 0;
    out->append(reinterpret_cast<const char*>(&e.prediction), sizeof(float));
    out->append(reinterpret_cast<const char*>(&e.weight), sizeof(float));
    out->append(reinterpret_cast<const char*>(&pos), 1);
  }
}

Auc Auc::ReadFrom(std::string_view* in) {
  uint64_t n = 0;
  CRANK_REQUIRE(in->size() >= sizeof(n) + 1, "Auc::ReadFrom: expected a header of 9 bytes, got {}",
                in->size());
  std::memcpy(&n, in->data(), sizeof(n));
  Auc auc;
  auc.has_nan_ = (*in)[sizeof(n)] != 0;
  in->remove_prefix(sizeof(n) + 1);
  constexpr size_t kEntry = 2 * sizeof(float) + 1;
  CRANK_REQUIRE(n <= in->size() / kEntry, "Auc::ReadFrom: {} entries need {} bytes, got {}", n,
                n * kEntry, in->size());
  auc.entries_.resize(static_cast<size_t>(n));
  for (Entry& e : auc.entries_) {
    std::memcpy(&e.prediction, in->data(), sizeof(float));
    std::memcpy(&e.weight, in->data() + sizeof(float), sizeof(float));
    e.positive = (*in)[2 * sizeof(float)] != 0;
    in->remove_prefix(kEntry);
  }
  return auc;
}

void Auc::Reset() {
  entries_.clear();
  has_nan_ = false;
}

double Auc::Result() const {
  constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
  if (has_nan_) return kNaN;  // NaN has no place in the order (and would break the sort).
  std::vector<Entry> sorted = entries_;
  std::sort(sorted.begin(), sorted.end(),
            [](const Entry& a, const Entry& b) { return a.prediction < b.prediction; });
  // Walk groups of equal prediction in increasing order. Each positive in a group beats all
  // negatives below the group and ties with the negatives inside it.
  double area = 0.0;
  double negative_below = 0.0;
  double positive_total = 0.0;
  size_t i = 0;
  while (i < sorted.size()) {
    double group_positive = 0.0;
    double group_negative = 0.0;
    size_t j = i;
    for (; j < sorted.size() && sorted[j].prediction == sorted[i].prediction; ++j) {
      (sorted[j].positive ? group_positive : group_negative) += sorted[j].weight;
    }
    area += group_positive * (negative_below + 0.5 * group_negative);
    negative_below += group_negative;
    positive_total += group_positive;
    i = j;
  }
  if (positive_total <= 0.0 || negative_below <= 0.0) return kNaN;
  return area / (positive_total * negative_below);
}

}  // namespace crank
