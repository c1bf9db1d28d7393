#ifndef CRANK_SERVE_METRICS_H_
#define CRANK_SERVE_METRICS_H_

// The server's metrics, rendered at GET /metrics in the Prometheus text format, named in the
// spirit of Triton's nv_inference_*: request success and failure (by reason), inference
// (rows) and execution (forward passes) counts, histograms of batch size, queue and compute
// time, the model's version and load time, and reloads by result. Thread-safe; every update
// takes one short lock.

#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

namespace crank::serve {

// A cumulative histogram with fixed upper bounds (Prometheus `le` buckets and +Inf).
class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  // Appends `name`_bucket / _sum / _count lines.
  void Render(const std::string& name, std::string* out) const;
  int64_t count() const { return count_; }

 private:
  std::vector<double> bounds_;
  std::vector<int64_t> counts_;  // per bucket, +Inf last
  double sum_ = 0.0;
  int64_t count_ = 0;
};

class ServeMetrics {
 public:
  ServeMetrics();

  void RequestSucceeded(double seconds);
  void RequestFailed(const std::string& reason);
  // One forward pass over `rows` rows merged from `requests` requests.
  void Executed(int64_t rows, int64_t requests, double queue_seconds_max, double compute_seconds);
  void QueueWait(double seconds);  // per request, from enqueue to the start of its batch
  void ModelLoaded(int64_t version, double seconds);
  void ReloadFailed();

  int64_t success() const;
  int64_t failures(const std::string& reason) const;  // 0 when none
  int64_t reloads_failed() const;
  int64_t model_version() const;

  std::string Render() const;  // Prometheus text exposition format 0.0.4

 private:
  mutable std::mutex mu_;
  int64_t success_ = 0;
  std::map<std::string, int64_t> failures_;
  int64_t inference_count_ = 0, exec_count_ = 0;
  Histogram batch_size_, queue_us_, compute_us_, request_us_;
  int64_t model_version_ = 0;
  double model_load_seconds_ = 0.0;
  int64_t reloads_ok_ = 0, reloads_failed_ = 0;
};

}  // namespace crank::serve

#endif  // CRANK_SERVE_METRICS_H_
