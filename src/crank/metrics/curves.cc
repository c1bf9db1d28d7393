#include "crank/metrics/curves.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>

#include "crank/base/error.h"

namespace crank {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// The cumulative (tp, fp) after each threshold group, highest prediction first.
std::vector<CurvePoint> ThresholdGroups(const float* predictions, const float* labels,
                                        const float* weights, int64_t n) {
  struct Entry {
    float prediction;
    float weight;
    bool positive;
  };
  std::vector<Entry> entries;
  entries.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const float w = weights == nullptr ? 1.0f : weights[i];
    if (w == 0.0f || !std::isfinite(predictions[i])) continue;
    entries.push_back({predictions[i], w, labels[i] > 0.5f});
  }
  std::sort(entries.begin(), entries.end(),
            [](const Entry& a, const Entry& b) { return a.prediction > b.prediction; });
  std::vector<CurvePoint> points;
  double tp = 0, fp = 0;
  for (size_t i = 0; i < entries.size();) {
    const float p = entries[i].prediction;
    for (; i < entries.size() && entries[i].prediction == p; ++i) {
      (entries[i].positive ? tp : fp) += entries[i].weight;
    }
    points.push_back({p, tp, fp});
  }
  return points;
}

}  // namespace

RocCurve ComputeRocCurve(const float* predictions, const float* labels, const float* weights,
                         int64_t n) {
  const std::vector<CurvePoint> groups = ThresholdGroups(predictions, labels, weights, n);
  RocCurve c;
  c.fpr.push_back(0.0);
  c.tpr.push_back(0.0);
  const double pos = groups.empty() ? 0.0 : groups.back().tp;
  const double neg = groups.empty() ? 0.0 : groups.back().fp;
  if (pos == 0.0 || neg == 0.0) {
    c.area = kNaN;
    return c;
  }
  double area = 0.0, prev_tp = 0.0, prev_fp = 0.0;
  for (const CurvePoint& g : groups) {
    // Trapezoid in unnormalised units: ties between the group's positives and negatives count
    // half, as in Auc.
    area += (g.fp - prev_fp) * (g.tp + prev_tp) / 2.0;
    prev_tp = g.tp;
    prev_fp = g.fp;
    c.fpr.push_back(g.fp / neg);
    c.tpr.push_back(g.tp / pos);
    c.thresholds.push_back(g.threshold);
  }
  c.area = area / (pos * neg);
  return c;
}

PrecisionRecallCurve ComputePrecisionRecallCurve(const float* predictions, const float* labels,
                                                 const float* weights, int64_t n) {
  const std::vector<CurvePoint> groups = ThresholdGroups(predictions, labels, weights, n);
  PrecisionRecallCurve c;
  const double pos = groups.empty() ? 0.0 : groups.back().tp;
  if (pos == 0.0) {
    c.average_precision = kNaN;
    return c;
  }
  double ap = 0.0, prev_recall = 0.0;
  for (const CurvePoint& g : groups) {
    const double recall = g.tp / pos;
    const double precision = g.tp / (g.tp + g.fp);
    ap += (recall - prev_recall) * precision;
    prev_recall = recall;
    c.recall.push_back(recall);
    c.precision.push_back(precision);
    c.thresholds.push_back(g.threshold);
  }
  c.average_precision = ap;
  return c;
}

std::vector<CalibrationBin> ComputeCalibrationBins(const float* predictions, const float* labels,
                                                   const float* weights, int64_t n, int bins) {
  if (bins < 1) throw InvalidArgument(fmt::format("calibration bins: expected >= 1, got {}", bins));
  std::vector<CalibrationBin> out(static_cast<size_t>(bins));
  std::vector<double> sum_p(out.size(), 0.0), sum_y(out.size(), 0.0);
  for (int64_t i = 0; i < n; ++i) {
    const float w = weights == nullptr ? 1.0f : weights[i];
    const float p = predictions[i];
    if (w == 0.0f || !std::isfinite(p)) continue;
    const int b = static_cast<int>(
        std::clamp(std::floor(static_cast<double>(p) * bins), 0.0, static_cast<double>(bins - 1)));
    CalibrationBin& bin = out[static_cast<size_t>(b)];
    ++bin.count;
    bin.weight += w;
    sum_p[static_cast<size_t>(b)] += static_cast<double>(w) * p;
    sum_y[static_cast<size_t>(b)] += static_cast<double>(w) * labels[i];
  }
  for (size_t b = 0; b < out.size(); ++b) {
    out[b].lower = static_cast<double>(b) / bins;
    out[b].upper = static_cast<double>(b + 1) / bins;
    out[b].mean_prediction = out[b].weight > 0 ? sum_p[b] / out[b].weight : kNaN;
    out[b].observed_rate = out[b].weight > 0 ? sum_y[b] / out[b].weight : kNaN;
  }
  return out;
}

Histogram ComputeHistogram(const float* values, int64_t n, int bins, double lower, double upper) {
  if (bins < 1 || !(lower < upper) || !std::isfinite(lower) || !std::isfinite(upper)) {
    throw InvalidArgument(fmt::format(
        "histogram: expected bins >= 1 and finite lower < upper, got {} bins over [{}, {}]", bins,
        lower, upper));
  }
  Histogram h;
  h.lower = lower;
  h.upper = upper;
  h.counts.assign(static_cast<size_t>(bins), 0);
  const double scale = bins / (upper - lower);
  for (int64_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) continue;
    const double x = (static_cast<double>(values[i]) - lower) * scale;
    const int b = static_cast<int>(std::clamp(std::floor(x), 0.0, static_cast<double>(bins - 1)));
    ++h.counts[static_cast<size_t>(b)];
  }
  return h;
}

int64_t CountNonFinite(const float* values, int64_t n) {
  int64_t k = 0;
  for (int64_t i = 0; i < n; ++i) k += std::isfinite(values[i]) ? 0 : 1;
  return k;
}

}  // namespace crank
