#include "crank/serve/metrics.h"

#include <fmt/format.h>

#include <algorithm>
#include <iterator>

namespace crank::serve {
namespace {

std::vector<double> MicrosecondBounds() {
  return {50, 100, 250, 500, 1000, 2500, 5000, 10000, 25000, 50000, 100000, 250000, 1000000};
}

void Header(const char* name, const char* type, const char* help, std::string* out) {
  fmt::format_to(std::back_inserter(*out), "# HELP {} {}\n# TYPE {} {}\n", name, help, name, type);
}

}  // namespace

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  const size_t i =
      static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin());
  ++counts_[i];
  sum_ += v;
  ++count_;
}

void Histogram::Render(const std::string& name, std::string* out) const {
  int64_t cumulative = 0;
  for (size_t i = 0; i < bounds_.size(); ++i) {
    cumulative += counts_[i];
    fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"{}\"}} {}\n", name, bounds_[i],
                   cumulative);
  }
  fmt::format_to(std::back_inserter(*out), "{}_bucket{{le=\"+Inf\"}} {}\n{}_sum {}\n{}_count {}\n",
                 name, count_, name, sum_, name, count_);
}

ServeMetrics::ServeMetrics()
    : batch_size_({1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 4096, 16384}),
      queue_us_(MicrosecondBounds()),
      compute_us_(MicrosecondBounds()),
      request_us_(MicrosecondBounds()) {}

void ServeMetrics::RequestSucceeded(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  ++success_;
  request_us_.Observe(seconds * 1e6);
}

void ServeMetrics::RequestFailed(const std::string& reason) {
  std::lock_guard<std::mutex> lock(mu_);
  ++failures_[reason];
}

void ServeMetrics::Executed(int64_t rows, int64_t requests, double queue_seconds_max,
                            double compute_seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  inference_count_ += rows;
  ++exec_count_;
  batch_size_.Observe(static_cast<double>(rows));
  compute_us_.Observe(compute_seconds * 1e6);
}

void ServeMetrics::QueueWait(double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  queue_us_.Observe(seconds * 1e6);
}

void ServeMetrics::ModelLoaded(int64_t version, double seconds) {
  std::lock_guard<std::mutex> lock(mu_);
  if (model_version_ != 0) ++reloads_ok_;
  model_version_ = version;
  model_load_seconds_ = seconds;
}

void ServeMetrics::ReloadFailed() {
  std::lock_guard<std::mutex> lock(mu_);
  ++reloads_failed_;
}

int64_t ServeMetrics::success() const {
  std::lock_guard<std::mutex> lock(mu_);
  return success_;
}

int64_t ServeMetrics::failures(const std::string& reason) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = failures_.find(reason);
  return it == failures_.end() ? 0 : it->second;
}

int64_t ServeMetrics::reloads_failed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return reloads_failed_;
}

int64_t ServeMetrics::model_version() const {
  std::lock_guard<std::mutex> lock(mu_);
  return model_version_;
}

std::string ServeMetrics::Render() const {
  std::lock_guard<std::mutex> lock(mu_);
  std::string out;
  auto it = std::back_inserter(out);
  Header("crank_inference_request_success", "counter", "Infer requests answered with 200.", &out);
  fmt::format_to(it, "crank_inference_request_success {}\n", success_);
  Header("crank_inference_request_failure", "counter",
         "Infer requests refused, by reason (bad_input, not_found, too_large, unavailable, "
         "internal).",
         &out);
  for (const char* r : {"bad_input", "not_found", "too_large", "unavailable", "internal"}) {
    auto f = failures_.find(r);
    fmt::format_to(it, "crank_inference_request_failure{{reason=\"{}\"}} {}\n", r,
                   f == failures_.end() ? 0 : f->second);
  }
  Header("crank_inference_count", "counter", "Rows (examples) predicted.", &out);
  fmt::format_to(it, "crank_inference_count {}\n", inference_count_);
  Header("crank_inference_exec_count", "counter", "Forward passes (merged batches) run.", &out);
  fmt::format_to(it, "crank_inference_exec_count {}\n", exec_count_);
  Header("crank_inference_batch_size", "histogram", "Rows per forward pass.", &out);
  batch_size_.Render("crank_inference_batch_size", &out);
  Header("crank_inference_queue_duration_us", "histogram",
         "Time a request waited in the batcher's queue, microseconds.", &out);
  queue_us_.Render("crank_inference_queue_duration_us", &out);
  Header("crank_inference_compute_duration_us", "histogram",
         "Time of one forward pass, microseconds.", &out);
  compute_us_.Render("crank_inference_compute_duration_us", &out);
  Header("crank_inference_request_duration_us", "histogram",
         "Time from a parsed request to its answer, microseconds (successful requests).", &out);
  request_us_.Render("crank_inference_request_duration_us", &out);
  Header("crank_model_version", "gauge", "Version of the model serving now (1 = first load).",
         &out);
  fmt::format_to(it, "crank_model_version {}\n", model_version_);
  Header("crank_model_load_seconds", "gauge", "Time the serving model took to load.", &out);
  fmt::format_to(it, "crank_model_load_seconds {}\n", model_load_seconds_);
  Header("crank_model_reloads", "counter", "Model reloads, by result.", &out);
  fmt::format_to(it, "crank_model_reloads{{result=\"success\"}} {}\n", reloads_ok_);
  fmt::format_to(it, "crank_model_reloads{{result=\"failure\"}} {}\n", reloads_failed_);
  return out;
}

}  // namespace crank::serve
