// In-process costs of the serving path for docs/serving.md, beside what wrk measures over
// HTTP: rows/s of Predict alone at a batch size, and the time per request of each step the
// server adds (JSON parsing, row mapping, the whole Infer without HTTP).
//
//   serve_predict MODEL ROWS_FILE BATCH [SECONDS] [THREADS]
//
// ROWS_FILE holds the model's input lines (Criteo TSV); the first BATCH of them make the
// request. THREADS threads (default 1) each run their own loop with their own workspace on the
// one shared model, as the server's inference workers do. Prints one JSON line.

#include <fmt/format.h>
#include <time.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include "crank/base/log.h"
#include "crank/serve/metrics.h"
#include "crank/serve/model_holder.h"
#include "crank/serve/request.h"
#include "crank/serve/served_model.h"
#include "crank/serve/server.h"

namespace {

using Clock = std::chrono::steady_clock;

// CPU time of the calling thread, in seconds.
double ThreadCpuSeconds() {
  timespec t;
  clock_gettime(CLOCK_THREAD_CPUTIME_ID, &t);
  return static_cast<double>(t.tv_sec) + 1e-9 * static_cast<double>(t.tv_nsec);
}

struct Rates {
  double calls_per_s;  // wall clock, all threads together
  double cpu_us;       // CPU time per call: unlike calls_per_s, not shared with other processes
};

// Calls `f` repeatedly for about `seconds` on `threads` threads.
template <typename F>
Rates Rate(double seconds, int threads, F f) {
  std::atomic<int64_t> calls{0};
  std::atomic<int64_t> cpu_ns{0};
  std::vector<std::thread> ts;
  const auto end = Clock::now() + std::chrono::duration<double>(seconds);
  const auto start = Clock::now();
  for (int t = 0; t < threads; ++t) {
    ts.emplace_back([&] {
      auto state = f.MakeState();
      int64_t n = 0;
      const double cpu = ThreadCpuSeconds();
      while (Clock::now() < end) {
        f(state);
        ++n;
      }
      cpu_ns += static_cast<int64_t>(1e9 * (ThreadCpuSeconds() - cpu));
      calls += n;
    });
  }
  for (auto& t : ts) t.join();
  const double n = static_cast<double>(calls.load());
  return {n / std::chrono::duration<double>(Clock::now() - start).count(),
          1e-3 * static_cast<double>(cpu_ns.load()) / n};
}

}  // namespace

int main(int argc, char** argv) {
  using namespace crank;
  if (argc < 4) {
    std::fprintf(stderr, "usage: %s MODEL ROWS_FILE BATCH [SECONDS] [THREADS]\n", argv[0]);
    return 2;
  }
  SetLogLevel(LogLevel::kWarning);
  const std::string model_path = argv[1];
  const int64_t batch_size = std::stoll(argv[3]);
  const double seconds = argc > 4 ? std::stod(argv[4]) : 3.0;
  const int threads = argc > 5 ? std::stoi(argv[5]) : 1;
  std::ifstream in(argv[2]);
  std::vector<std::string> rows;
  for (std::string l; static_cast<int64_t>(rows.size()) < batch_size && std::getline(in, l);) {
    rows.push_back(l);
  }
  nlohmann::json j;
  j["inputs"] = nlohmann::json::array(
      {{{"name", "rows"}, {"datatype", "BYTES"}, {"shape", {rows.size()}}, {"data", rows}}});
  const std::string body = j.dump();

  auto model = serve::ServedModel::Load(model_path, 1, 1);
  serve::RequestLimits limits;
  const serve::InferRequest request = serve::ParseInferRequest(body, limits);
  Batch batch;
  model->MapInputs(request, &batch);

  struct PredictLoop {
    const serve::ServedModel* m;
    const Batch* b;
    struct State {
      InferenceWorkspace ws;
      Tensor out;
    };
    State MakeState() const { return {}; }
    void operator()(State& s) const { m->model().Predict(*b, &s.ws, &s.out); }
  };
  const Rates predict = Rate(seconds, threads, PredictLoop{model.get(), &batch});

  struct ParseLoop {
    const std::string* body;
    serve::RequestLimits limits;
    int MakeState() const { return 0; }
    void operator()(int&) const { serve::ParseInferRequest(*body, limits); }
  };
  const Rates parse = Rate(seconds / 3, 1, ParseLoop{&body, limits});

  struct MapLoop {
    const serve::ServedModel* m;
    const serve::InferRequest* r;
    Batch MakeState() const { return {}; }
    void operator()(Batch& b) const { m->MapInputs(*r, &b); }
  };
  const Rates map = Rate(seconds / 3, 1, MapLoop{model.get(), &request});

  // The whole request without HTTP: parse, map, batcher (no merging), response text.
  serve::ServeMetrics metrics;
  serve::ModelHolder holder(model_path, 1, &metrics);
  holder.LoadInitial();
  serve::ServerOptions o;
  o.name = "m";
  o.batcher.max_batch = 0;
  o.batcher.workers = threads;
  serve::InferenceServer server(o, &holder, &metrics);
  struct InferLoop {
    serve::InferenceServer* s;
    const std::string* body;
    int MakeState() const { return 0; }
    void operator()(int&) const { s->Infer("m", *body); }
  };
  const Rates infer = Rate(seconds, threads, InferLoop{&server, &body});

  // *_us: wall time per call (per thread); *_cpu_us: CPU time per call (the whole Infer has
  // none: its forward pass runs on the batcher's thread).
  const double b = static_cast<double>(batch.size());
  std::printf(
      "{\"batch\": %lld, \"threads\": %d, \"predict_rows_per_s\": %.0f, "
      "\"predict_us\": %.1f, \"parse_json_us\": %.1f, \"map_rows_us\": %.1f, "
      "\"infer_without_http_us\": %.1f, \"infer_without_http_rows_per_s\": %.0f, "
      "\"predict_cpu_us\": %.1f, \"parse_json_cpu_us\": %.1f, \"map_rows_cpu_us\": %.1f}\n",
      static_cast<long long>(batch.size()), threads, predict.calls_per_s * b,
      1e6 * threads / predict.calls_per_s, 1e6 / parse.calls_per_s, 1e6 / map.calls_per_s,
      1e6 * threads / infer.calls_per_s, infer.calls_per_s * b, predict.cpu_us, parse.cpu_us,
      map.cpu_us);
  return 0;
}
