#include "crank/metrics/metric_set.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>

#include "crank/base/error.h"

namespace crank {
namespace {

constexpr double kEpsilon = 1e-7;  // tf.keras.backend.epsilon()
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// Per-example binary cross-entropy from a probability, as tf.keras.backend.binary_crossentropy.
double LogLoss(double p, double y) {
  const double q = std::clamp(p, kEpsilon, 1.0 - kEpsilon);
  return -(y * std::log(q + kEpsilon) + (1.0 - y) * std::log(1.0 - q + kEpsilon));
}

}  // namespace

MetricSet::MetricSet(bool regression) : regression_(regression) {}

void MetricSet::Update(const float* predictions, const float* labels, const float* weights,
                       int64_t n) {
  CRANK_REQUIRE(n >= 0, "MetricSet::Update: expected n >= 0, got {}", n);
  if (n == 0) return;
  CRANK_REQUIRE(predictions != nullptr && labels != nullptr,
                "MetricSet::Update: predictions and labels must not be null for n = {}", n);
  for (int64_t i = 0; i < n; ++i) {
    CRANK_REQUIRE(std::isfinite(labels[i]),
                  "MetricSet::Update: label {} at example {} is not finite", labels[i], i);
    if (weights != nullptr) {
      CRANK_REQUIRE(std::isfinite(weights[i]) && weights[i] >= 0.0f,
                    "MetricSet::Update: weight {} at example {} must be finite and >= 0",
                    weights[i], i);
    }
  }
  for (int64_t i = 0; i < n; ++i) {
    const double p = predictions[i];
    const double y = labels[i];
    const double w = weights != nullptr ? static_cast<double>(weights[i]) : 1.0;
    logloss_.Add(LogLoss(p, y), w);
    accuracy_.Add((p > 0.5) == (y > 0.5) ? 1.0 : 0.0, w);
    prediction_.Add(p, w);
    label_.Add(y, w);
    labels_in_unit_interval_ = labels_in_unit_interval_ && y >= 0.0 && y <= 1.0;
    if (regression_) {
      squared_error_.Add((p - y) * (p - y), w);
      absolute_error_.Add(std::fabs(p - y), w);
    }
  }
  auc_.Update(predictions, labels, weights, n);
  examples_ += n;
}

void MetricSet::UpdateLoss(double batch_loss, double weight) {
  CRANK_REQUIRE(std::isfinite(weight) && weight >= 0.0,
                "MetricSet::UpdateLoss: weight {} must be finite and >= 0", weight);
  loss_.Add(batch_loss, weight);
}

std::map<std::string, double> MetricSet::Results() const {
  std::map<std::string, double> r;
  const double logloss = logloss_.Result();
  const double prediction_mean = prediction_.Result();
  const double label_mean = label_.Result();
  r["examples"] = static_cast<double>(examples_);
  r["auc"] = auc_.Result();
  r["logloss"] = logloss;
  r["accuracy"] = accuracy_.Result();
  r["prediction_mean"] = prediction_mean;
  r["label_mean"] = label_mean;
  r["loss"] = loss_.Result();
  const double q = label_mean;
  r["ne"] = q > 0.0 && q < 1.0 ? logloss / -(q * std::log(q) + (1.0 - q) * std::log1p(-q)) : kNaN;
  r["calibration"] = label_mean != 0.0 ? prediction_mean / label_mean : kNaN;
  if (regression_) {
    r["rmse"] = std::sqrt(squared_error_.Result());
    r["mae"] = absolute_error_.Result();
    // Probability metrics are undefined for real-valued labels (e.g. star ratings): reported as
    // NaN (null in JSON) instead of numbers that look meaningful.
    if (!labels_in_unit_interval_) {
      r["auc"] = r["logloss"] = r["accuracy"] = r["ne"] = kNaN;
    }
  }
  return r;
}

void MetricSet::Reset() {
  // Field by field, so that the AUC's storage keeps its capacity: a reset after every training
  // step allocates nothing.
  examples_ = 0;
  labels_in_unit_interval_ = true;
  auc_.Reset();
  for (WeightedMean* m :
       {&logloss_, &accuracy_, &prediction_, &label_, &squared_error_, &absolute_error_, &loss_}) {
    *m = WeightedMean();
  }
}

void MetricSet::Merge(const MetricSet& other) {
  CRANK_REQUIRE(regression_ == other.regression_,
                "MetricSet::Merge: expected a {} set, got a {} one",
                regression_ ? "regression" : "classification",
                other.regression_ ? "regression" : "classification");
  if (&other == this) {
    const MetricSet copy = other;
    Merge(copy);
    return;
  }
  examples_ += other.examples_;
  labels_in_unit_interval_ = labels_in_unit_interval_ && other.labels_in_unit_interval_;
  auc_.Merge(other.auc_);
  logloss_.Merge(other.logloss_);
  accuracy_.Merge(other.accuracy_);
  prediction_.Merge(other.prediction_);
  label_.Merge(other.label_);
  squared_error_.Merge(other.squared_error_);
  absolute_error_.Merge(other.absolute_error_);
  loss_.Merge(other.loss_);
}

namespace {

void PutDouble(std::string* out, double v) { out->append(reinterpret_cast<const char*>(&v), 8); }

double TakeDouble(std::string_view* in) {
  CRANK_REQUIRE(in->size() >= 8, "MetricSet::Deserialize: the bytes end early");
  double v;
  std::memcpy(&v, in->data(), 8);
  in->remove_prefix(8);
  return v;
}

}  // namespace

std::string MetricSet::Serialize() const {
  std::string out;
  PutDouble(&out, regression_ ? 1.0 : 0.0);
  PutDouble(&out, static_cast<double>(examples_));
  PutDouble(&out, labels_in_unit_interval_ ? 1.0 : 0.0);
  for (const WeightedMean* m :
       {&logloss_, &accuracy_, &prediction_, &label_, &squared_error_, &absolute_error_, &loss_}) {
    PutDouble(&out, m->weighted_sum());
    PutDouble(&out, m->weight_sum());
  }
  auc_.AppendTo(&out);
  return out;
}

MetricSet MetricSet::Deserialize(std::string_view in) {
  MetricSet s(TakeDouble(&in) != 0.0);
  s.examples_ = static_cast<int64_t>(TakeDouble(&in));
  s.labels_in_unit_interval_ = TakeDouble(&in) != 0.0;
  for (WeightedMean* m : {&s.logloss_, &s.accuracy_, &s.prediction_, &s.label_, &s.squared_error_,
                          &s.absolute_error_, &s.loss_}) {
    const double weighted = TakeDouble(&in);
    *m = WeightedMean::FromSums(weighted, TakeDouble(&in));
  }
  s.auc_ = Auc::ReadFrom(&in);
  CRANK_REQUIRE(in.empty(), "MetricSet::Deserialize: {} bytes left over", in.size());
  return s;
}

}  // namespace crank
