#ifndef CRANK_SERVE_BATCHER_H_
#define CRANK_SERVE_BATCHER_H_

// DynamicBatcher: merges concurrent requests into one forward pass, as Triton's dynamic
// batcher (max_queue_delay_microseconds) does. A request waits in a bounded queue; a worker
// takes the oldest request and, until it holds max_batch rows or the oldest request has waited
// max_queue_delay, takes the following requests of the same model; it runs one const Predict
// over the concatenated batch with its own InferenceWorkspace and hands each request its rows
// of the output. Requests mapped with different models (a reload happened between them) are
// never merged: each runs on the model it was mapped with.
//
// The oldest request waits only while another request is on its way (announced with an Arrival
// when its body was read, not yet queued): a lone request runs at once instead of sleeping
// for max_queue_delay, and concurrent requests still meet in one pass.
//
// A request larger than max_batch runs alone; max_batch = 0 turns merging off (every request
// is its own forward pass). Rows merged with others may differ in the last bits from the same
// rows predicted alone (GEMM kernels are chosen by shape); a request that runs alone gets the
// bits of `crank predict` on the same rows.
//
// Thread-safe: Infer is called from any number of threads. Stop (or the destructor) refuses
// new requests, runs every queued one and joins the workers.

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "crank/serve/metrics.h"
#include "crank/serve/served_model.h"
#include "crank/tensor/batch.h"
#include "crank/tensor/tensor.h"

namespace crank::serve {

struct BatcherOptions {
  int64_t max_batch = 512;             // rows per merged forward pass; 0 = no merging
  int64_t max_queue_delay_us = 500;    // how long the oldest request may wait for others
  int64_t max_queued_requests = 1024;  // beyond it Infer answers 503
  int workers = 1;                     // forward passes running at once
  void Validate() const;               // InvalidArgument naming the field
};

class DynamicBatcher {
 public:
  DynamicBatcher(const BatcherOptions& options, ServeMetrics* metrics);
  ~DynamicBatcher();
  DynamicBatcher(const DynamicBatcher&) = delete;
  DynamicBatcher& operator=(const DynamicBatcher&) = delete;

  // A request on its way to Infer (its body was read): the batcher waits for it. Ends when
  // Infer queues the request, or when destroyed (the request was refused before).
  class Arrival {
   public:
    explicit Arrival(DynamicBatcher* batcher);
    ~Arrival();
    Arrival(const Arrival&) = delete;
    Arrival& operator=(const Arrival&) = delete;

   private:
    friend class DynamicBatcher;
    DynamicBatcher* batcher_;
    bool pending_ = true;
  };

  // Predicts `batch` (B rows, mapped by `model`) into *predictions (B). Blocks until done.
  // Throws RequestError 503 when the queue is full or the batcher stopped, and rethrows what
  // Predict threw. `arrival`, when given, ends here.
  void Infer(std::shared_ptr<const ServedModel> model, const Batch& batch, Tensor* predictions,
             Arrival* arrival = nullptr);

  void Stop();

  // Requests waiting in the queue now.
  int64_t queued();

 private:
  struct Pending;
  void WorkerLoop();
  void Run(std::vector<Pending*>& group, InferenceWorkspace* ws, Batch* merged, Tensor* out);

  const BatcherOptions options_;
  ServeMetrics* metrics_;
  std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending*> queue_;
  bool stopping_ = false;
  int64_t arriving_ = 0;  // Arrivals not yet ended (guarded by mu_)
  std::vector<std::thread> workers_;
};

}  // namespace crank::serve

#endif  // CRANK_SERVE_BATCHER_H_
