#include "crank/serve/batcher.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>
#include <exception>
#include <future>

#include "crank/base/error.h"

namespace crank::serve {
namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::duration d) { return std::chrono::duration<double>(d).count(); }

// Appends the B rows of `b` to `merged` at row `rows_before` (dense, ids, offsets; labels are
// dropped). weighted[f]: feature f of the merged batch carries weights (1 where `b` has none).
void AppendBatch(const Batch& b, int64_t rows_before, const std::vector<bool>& weighted,
                 Batch* merged) {
  const int64_t rows = b.size();
  const int64_t d = b.dense.rank() == 2 ? b.dense.dim(1) : 0;
  if (rows * d > 0) {  // D == 0: a model without dense features has no dense data to copy
    std::memcpy(merged->dense.data() + rows_before * d, b.dense.data(),
                static_cast<size_t>(rows * d) * sizeof(float));
  }
  for (size_t f = 0; f < b.sparse.size(); ++f) {
    const SparseFeature& s = b.sparse[f];
    SparseFeature& m = merged->sparse[f];
    const int64_t base = static_cast<int64_t>(m.ids.size());
    if (weighted[f]) {
      if (s.weights.empty()) {
        m.weights.insert(m.weights.end(), s.ids.size(), 1.0f);
      } else {
        m.weights.insert(m.weights.end(), s.weights.begin(), s.weights.end());
      }
    }
    m.ids.insert(m.ids.end(), s.ids.begin(), s.ids.end());
    for (int64_t i = 1; i <= rows; ++i) {
      m.offsets.push_back(base + s.offsets[static_cast<size_t>(i)]);
    }
  }
}

}  // namespace

struct DynamicBatcher::Pending {
  std::shared_ptr<const ServedModel> model;
  const Batch* batch;
  Tensor* predictions;
  int64_t rows;
  Clock::time_point enqueued;
  std::promise<void> done;
};

void BatcherOptions::Validate() const {
  if (max_batch < 0) throw InvalidArgument(fmt::format("max_batch: {} is negative", max_batch));
  if (max_queue_delay_us < 0) {
    throw InvalidArgument(fmt::format("max_queue_delay_us: {} is negative", max_queue_delay_us));
  }
  if (max_queued_requests < 1) {
    throw InvalidArgument(
        fmt::format("max_queued_requests: expected >= 1, got {}", max_queued_requests));
  }
  if (workers < 1) throw InvalidArgument(fmt::format("workers: expected >= 1, got {}", workers));
}

DynamicBatcher::DynamicBatcher(const BatcherOptions& options, ServeMetrics* metrics)
    : options_(options), metrics_(metrics) {
  options_.Validate();
  for (int i = 0; i < options_.workers; ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

DynamicBatcher::~DynamicBatcher() { Stop(); }

DynamicBatcher::Arrival::Arrival(DynamicBatcher* batcher) : batcher_(batcher) {
  std::lock_guard<std::mutex> lock(batcher_->mu_);
  ++batcher_->arriving_;
}

DynamicBatcher::Arrival::~Arrival() {
  {
    std::lock_guard<std::mutex> lock(batcher_->mu_);
    if (!pending_) return;
    pending_ = false;
    --batcher_->arriving_;
  }
  batcher_->cv_.notify_all();  // a worker may be waiting for this request
}

void DynamicBatcher::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : workers_) {
    if (t.joinable()) t.join();
  }
}

int64_t DynamicBatcher::queued() {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int64_t>(queue_.size());
}

void DynamicBatcher::Infer(std::shared_ptr<const ServedModel> model, const Batch& batch,
                           Tensor* predictions, Arrival* arrival) {
  Pending p;
  p.model = std::move(model);
  p.batch = &batch;
  p.predictions = predictions;
  p.rows = batch.size();
  p.enqueued = Clock::now();
  std::future<void> done = p.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (arrival != nullptr && arrival->pending_) {
      arrival->pending_ = false;
      --arriving_;
    }
    if (stopping_) throw RequestError(503, "the server is shutting down");
    if (static_cast<int64_t>(queue_.size()) >= options_.max_queued_requests) {
      throw RequestError(503,
                         fmt::format("overloaded: {} requests queued; retry later", queue_.size()));
    }
    queue_.push_back(&p);
  }
  // Without a queue delay only an idle worker waits on cv_, and one is enough; with it, a worker
  // waiting for this request to join its pass must see it too.
  if (options_.max_batch == 0 || options_.max_queue_delay_us == 0) {
    cv_.notify_one();
  } else {
    cv_.notify_all();
  }
  done.get();  // rethrows the forward pass's exception
}

void DynamicBatcher::WorkerLoop() {
  InferenceWorkspace ws;
  Batch merged;
  Tensor out;
  std::vector<Pending*> group;
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    cv_.wait(lock, [&] { return !queue_.empty() || stopping_; });
    if (queue_.empty()) return;  // stopping, nothing left
    // Rows of the leading requests that can join the oldest one's forward pass.
    const auto mergeable_rows = [&] {
      int64_t rows = 0;
      for (Pending* p : queue_) {
        if (p->model != queue_.front()->model) break;
        rows += p->rows;
        if (rows >= options_.max_batch) break;
      }
      return rows;
    };
    if (options_.max_batch > 0 && options_.max_queue_delay_us > 0) {
      const Clock::time_point deadline =
          queue_.front()->enqueued + std::chrono::microseconds(options_.max_queue_delay_us);
      while (!stopping_ && !queue_.empty() && arriving_ > 0 &&
             mergeable_rows() < options_.max_batch && Clock::now() < deadline) {
        cv_.wait_until(lock, deadline);
      }
      if (queue_.empty()) continue;  // another worker took them
    }
    group.clear();
    int64_t rows = 0;
    const Clock::time_point start = Clock::now();
    while (!queue_.empty()) {
      Pending* p = queue_.front();
      if (!group.empty() && (options_.max_batch == 0 || p->model != group[0]->model ||
                             rows + p->rows > options_.max_batch)) {
        break;
      }
      group.push_back(p);
      rows += p->rows;
      queue_.pop_front();
    }
    if (!queue_.empty()) cv_.notify_one();  // the rest is another worker's
    lock.unlock();
    for (Pending* p : group) metrics_->QueueWait(Seconds(start - p->enqueued));
    Run(group, &ws, &merged, &out);
    lock.lock();
  }
}

void DynamicBatcher::Run(std::vector<Pending*>& group, InferenceWorkspace* ws, Batch* merged,
                         Tensor* out) {
  const Clock::time_point start = Clock::now();
  int64_t rows = 0;
  try {
    const Ranking& model = group[0]->model->model();
    if (group.size() == 1) {
      model.Predict(*group[0]->batch, ws, group[0]->predictions);
      rows = group[0]->rows;
    } else {
      const Batch& first = *group[0]->batch;
      for (Pending* p : group) rows += p->rows;
      const int64_t d = first.dense.rank() == 2 ? first.dense.dim(1) : 0;
      merged->dense.Resize({rows, d});
      merged->labels = Tensor();
      merged->weights = Tensor();
      merged->sparse.resize(first.sparse.size());
      for (SparseFeature& s : merged->sparse) s.Clear();
      std::vector<bool> weighted(first.sparse.size(), false);
      for (Pending* p : group) {
        for (size_t f = 0; f < weighted.size(); ++f) {
          if (!p->batch->sparse[f].weights.empty()) weighted[f] = true;
        }
      }
      int64_t at = 0;
      for (Pending* p : group) {
        AppendBatch(*p->batch, at, weighted, merged);
        at += p->rows;
      }
      model.Predict(*merged, ws, out);
      at = 0;
      for (Pending* p : group) {
        p->predictions->Resize({p->rows});
        std::copy(out->data() + at, out->data() + at + p->rows, p->predictions->data());
        at += p->rows;
      }
    }
  } catch (...) {
    const std::exception_ptr e = std::current_exception();
    for (Pending* p : group) p->done.set_exception(e);
    return;
  }
  metrics_->Executed(rows, static_cast<int64_t>(group.size()), 0.0, Seconds(Clock::now() - start));
  for (Pending* p : group) p->done.set_value();
}

}  // namespace crank::serve
