// predict_throughput: crank's const Ranking::Predict on model-space inputs, the same request
// body ONNX Runtime gets in bench/onnx_peer.sh (bench/onnx_peer.js): rows/s at one batch size.
//
// Usage: predict_throughput --model=M.crank --request=REQUEST.json --batch=N --threads=N
//        [--min-seconds=2] [--gemm-backend=auto|openblas|onednn] [--precision=fp32|bf16]
// The request's rows are cut into batches of N (cycled; at most 64 distinct batches), converted
// once (ModelInputsToBatch), then Predict runs whole batches after a warm-up until min-seconds
// have passed. Prints one JSON line: {"engine":"crank","batch":N,"threads":T,"rows_per_s":R,
// "us_per_batch":U,"best_us_per_batch":F}, F the fastest block of 16 calls (per call): on a
// loaded machine it moves less than the mean. --gemm-backend sets crank::SetGemmBackend
// (A/B of the GEMM rule in one build). --precision sets the GEMM precision of the model's calls
// (default fp32; bf16 runs fp32 where the CPU has no native bf16 GEMM, as everywhere in crank).
// Like the CLI it first runs itself again with crank's runtime
// environment.

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <exception>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "crank/data/model_inputs.h"
#include "crank/io/load_model.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/gemm.h"
#include "crank/startup/runtime_env.h"

namespace {

struct Options {
  std::string model, request;
  int64_t batch = 128;
  int threads = 1;
  double min_seconds = 2.0;
  std::string gemm_backend = "auto";
  std::string precision = "fp32";
};

Options Parse(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    const auto value = [&](const char* key) -> const char* {
      const std::string k = std::string("--") + key + "=";
      return a.rfind(k, 0) == 0 ? argv[i] + k.size() : nullptr;
    };
    if (const char* v = value("model")) {
      o.model = v;
    } else if (const char* v = value("request")) {
      o.request = v;
    } else if (const char* v = value("batch")) {
      o.batch = std::stoll(v);
    } else if (const char* v = value("threads")) {
      o.threads = std::stoi(v);
    } else if (const char* v = value("min-seconds")) {
      o.min_seconds = std::stod(v);
    } else if (const char* v = value("gemm-backend")) {
      o.gemm_backend = v;
    } else if (const char* v = value("precision")) {
      o.precision = v;
    } else {
      throw std::runtime_error(
          "unknown argument " + a +
          " (usage: predict_throughput --model=M.crank --request=R.json "
          "--batch=N --threads=N [--min-seconds=S] [--gemm-backend=B] [--precision=P])");
    }
  }
  if (o.model.empty() || o.request.empty() || o.batch < 1 || o.threads < 1) {
    throw std::runtime_error("--model, --request, --batch >= 1 and --threads >= 1 are required");
  }
  return o;
}

// Rows [begin, begin + n) of `all`.
crank::Batch Slice(const crank::Batch& all, int64_t begin, int64_t n) {
  crank::Batch b;
  const int64_t d = all.dense.dim(1);
  b.dense.Resize({n, d});
  for (int64_t i = 0; i < n * d; ++i) b.dense[i] = all.dense[begin * d + i];
  b.sparse.resize(all.sparse.size());
  for (size_t f = 0; f < all.sparse.size(); ++f) {
    const crank::SparseFeature& s = all.sparse[f];
    crank::SparseFeature& t = b.sparse[f];
    const int64_t lo = s.offsets[static_cast<size_t>(begin)];
    const int64_t hi = s.offsets[static_cast<size_t>(begin + n)];
    t.ids.assign(s.ids.begin() + lo, s.ids.begin() + hi);
    if (!s.weights.empty()) t.weights.assign(s.weights.begin() + lo, s.weights.begin() + hi);
    t.offsets.clear();
    for (int64_t i = 0; i <= n; ++i)
      t.offsets.push_back(s.offsets[static_cast<size_t>(begin + i)] - lo);
  }
  return b;
}

}  // namespace

int main(int argc, char** argv) {
  crank::ReexecWithRuntimeEnvironment(argv);
  try {
    const Options o = Parse(argc, argv);
    crank::SetGemmBackend(crank::ParseGemmBackend(o.gemm_backend));
    crank::LoadedModel m = crank::LoadModel(o.model);
    crank::ComputeSettings settings;
    settings.threads = o.threads;
    settings.precision = crank::ParseGemmPrecision(o.precision);
    m.model->SetComputeSettings(settings);
    std::ifstream in(o.request);
    std::stringstream text;
    text << in.rdbuf();
    const auto body = nlohmann::json::parse(text.str());
    const crank::Batch all =
        crank::ModelInputsToBatch(crank::ModelInputsFromJson(body.at("inputs")), m.mapping->spec());
    if (all.size() < o.batch) throw std::runtime_error("the request has fewer rows than --batch");
    std::vector<crank::Batch> batches;
    for (int64_t begin = 0; begin + o.batch <= all.size() && batches.size() < 64;
         begin += o.batch) {
      batches.push_back(Slice(all, begin, o.batch));
    }
    crank::InferenceWorkspace workspace;
    crank::Tensor predictions;
    using Clock = std::chrono::steady_clock;
    for (size_t i = 0; i < batches.size() * 2 || i < 20; ++i) {  // warm-up
      m.model->Predict(batches[i % batches.size()], &workspace, &predictions);
    }
    int64_t calls = 0;
    const auto start = Clock::now();
    double seconds = 0;
    double best_block = 1e30;
    while (seconds < o.min_seconds) {
      const double block_start = seconds;
      for (int k = 0; k < 16; ++k, ++calls) {
        m.model->Predict(batches[static_cast<size_t>(calls) % batches.size()], &workspace,
                         &predictions);
      }
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      best_block = std::min(best_block, seconds - block_start);
    }
    std::printf(
        "{\"engine\":\"crank\",\"precision\":\"%s\",\"batch\":%lld,\"threads\":%d,\"rows_per_s\":%."
        "1f,"
        "\"us_per_batch\":%.2f,\"best_us_per_batch\":%.2f}\n",
        o.precision.c_str(), static_cast<long long>(o.batch), o.threads,
        static_cast<double>(calls * o.batch) / seconds, seconds * 1e6 / static_cast<double>(calls),
        best_block * 1e6 / 16);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "predict_throughput: %s\n", e.what());
    return 1;
  }
}
