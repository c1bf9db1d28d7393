// train_throughput: end-to-end training and inference throughput of a Ranking model built and
// driven through crank's public API, on the same synthetic data shape as the PyTorch peer
// (../shared/peer/torch_ranking.py --synthetic-rows): dense = uniform * 5, ids uniform in
// [0, buckets], labels Bernoulli(0.25); 26 tables of buckets + 1 rows.
// --ids=zipf draws each feature's ids as in real logs instead: a Zipf rank r in [0, buckets)
// (bounded power law with --zipf-exponent, 1.1 as `crank gen`) hashed into [1, buckets], a
// different hash per feature (hot ids scattered over the table, as hashing puts them).
// --write-tsv=PATH writes the training rows as a Criteo TSV whose tokens the peer (--train,
// same --buckets) maps back to exactly these ids (token = hex(id - 1), id 0 = empty token), so
// both engines train on the same ids (docs/performance.md, "Big tables").
//
// Configurations (26 tables x 100,001 rows x 16, 13 dense features):
//   criteo-dlrm   bottom 512-256-64-16, top 512-256-1, dot interaction
//   tfrs-default  bottom 256-64-16,     top 512-256-1, dot interaction
//   dcn           bottom 256-64-16,     top 512-256-1, one full-rank Cross layer
//
// Measurements (--modes, comma-separated), one JSON line each:
//   train    TrainStep examples/s at --batch (data already in memory as batches), FLOPs per
//            example (GEMM flops of forward + backward: 3 x 2 in out per dense layer, plus the
//            interaction), achieved GFLOP/s and the fraction of --gemm-peak
//   infer    Predict examples/s at batch 2048
//   latency  Predict at batch 1: median and p99 microseconds per call
//   reader   the same training from a generated Criteo TSV file through StreamingReader
//            (background parsing thread) vs the same batches held in memory; the loss in %
//   memory   peak resident memory (getrusage) vs the bytes of parameters + optimizer state
//
// Each timed loop warms up first, then runs whole steps until --min-seconds have passed.
// Usage: train_throughput --config=criteo-dlrm --batch=2048 --threads=2 [--modes=train,infer]
//        [--min-seconds=2.5] [--rows=N] [--reader-rows=N] [--gemm-peak=GFLOPS]
//        [--emb-opt=sgd|adagrad|adam] [--emb-lr=0.1] [--dense-opt=...] [--dense-lr=0.1]
//        [--precision=fp32|bf16] [--gemm-backend=auto|openblas|onednn]  (crank::SetGemmPrecision)
//        [--embedding-precision=fp32|bf16|fp16]  (how the tables are stored)
//        [--buckets=100000] [--seed=1] [--ids=uniform|zipf] [--zipf-exponent=1.1]
//        [--write-tsv=PATH]
//        train_throughput --runtime-env   prints the process settings crank would choose now
// Like the crank CLI, it runs itself again with crank::RecommendedRuntimeEnvironment() first
// (OpenMP waiting chosen by the machine's load at start, unless OMP_WAIT_POLICY or
// GOMP_SPINCOUNT is set; each JSON line's "omp_wait" says which).

#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <memory>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "crank/base/rng.h"
#include "crank/data/batch_reader.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/kernels/gemm.h"
#include "crank/model/ranking.h"
#include "crank/model/ranking_config.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/optimizer.h"
#include "crank/startup/runtime_env.h"
#include "crank/tensor/batch.h"

namespace {

using Clock = std::chrono::steady_clock;

constexpr int64_t kDense = 13;
constexpr int64_t kSparse = 26;
constexpr int64_t kDefaultBuckets = 100'000;  // ids in [0, buckets]: V = buckets + 1
constexpr int64_t kDim = 16;

double Since(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

int64_t PeakRssBytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<int64_t>(u.ru_maxrss) * 1024;  // Linux: kilobytes
}

struct Options {
  std::string config = "criteo-dlrm";
  int64_t batch = 2048;
  int threads = 2;
  std::set<std::string> modes = {"train"};
  double min_seconds = 2.5;
  int64_t rows = 0;  // 0: chosen from the batch size
  int64_t reader_rows = 200'000;
  double gemm_peak = 0.0;  // 0: measured here
  std::string emb_opt = "sgd", dense_opt = "sgd";
  float emb_lr = 0.1f, dense_lr = 0.1f;
  uint64_t seed = 1;
  std::string precision = "fp32", gemm_backend = "auto";  // crank::SetGemmPrecision / Backend
  std::string embedding_precision = "fp32";               // TableConfig::precision
  int64_t buckets = kDefaultBuckets;  // rows per table - 1 (synthetic data only)
  bool zipf = false;                  // --ids=zipf
  double zipf_exponent = 1.1;
  std::string write_tsv;  // non-empty: the training rows as a Criteo TSV for the peer
};

[[noreturn]] void Usage(const std::string& why) {
  std::fprintf(stderr,
               "train_throughput: %s\nusage: train_throughput --config=criteo-dlrm|tfrs-default|"
               "dcn --batch=N --threads=N [--modes=train,infer,latency,reader,memory] "
               "[--min-seconds=S] [--rows=N] [--reader-rows=N] [--gemm-peak=GFLOPS] "
               "[--emb-opt=sgd|adagrad|adam] [--emb-lr=X] [--dense-opt=...] [--dense-lr=X] "
               "[--precision=fp32|bf16] [--gemm-backend=auto|openblas|onednn] "
               "[--embedding-precision=fp32|bf16|fp16] [--buckets=N] "
               "[--seed=N] [--ids=uniform|zipf] [--zipf-exponent=S] [--write-tsv=PATH]\n",
               why.c_str());
  std::exit(2);
}

Options ParseFlags(int argc, char** argv) {
  Options o;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    if (arg.rfind("--", 0) != 0 || eq == std::string::npos) Usage("bad argument " + arg);
    const std::string key = arg.substr(2, eq - 2), v = arg.substr(eq + 1);
    if (key == "config") {
      o.config = v;
    } else if (key == "batch") {
      o.batch = std::stoll(v);
    } else if (key == "threads") {
      o.threads = std::stoi(v);
    } else if (key == "modes") {
      o.modes.clear();
      std::stringstream ss(v);
      for (std::string m; std::getline(ss, m, ',');) o.modes.insert(m);
    } else if (key == "min-seconds") {
      o.min_seconds = std::stod(v);
    } else if (key == "rows") {
      o.rows = std::stoll(v);
    } else if (key == "reader-rows") {
      o.reader_rows = std::stoll(v);
    } else if (key == "gemm-peak") {
      o.gemm_peak = std::stod(v);
    } else if (key == "emb-opt") {
      o.emb_opt = v;
    } else if (key == "dense-opt") {
      o.dense_opt = v;
    } else if (key == "emb-lr") {
      o.emb_lr = std::stof(v);
    } else if (key == "dense-lr") {
      o.dense_lr = std::stof(v);
    } else if (key == "seed") {
      o.seed = std::stoull(v);
    } else if (key == "precision") {
      o.precision = v;
    } else if (key == "embedding-precision") {
      if (v != "fp32" && v != "bf16" && v != "fp16") {
        Usage("--embedding-precision must be fp32, bf16 or fp16, got " + v);
      }
      o.embedding_precision = v;
    } else if (key == "gemm-backend") {
      o.gemm_backend = v;
    } else if (key == "buckets") {
      o.buckets = std::stoll(v);
    } else if (key == "ids") {
      if (v != "uniform" && v != "zipf") Usage("--ids must be uniform or zipf, got " + v);
      o.zipf = v == "zipf";
    } else if (key == "zipf-exponent") {
      o.zipf_exponent = std::stod(v);
    } else if (key == "write-tsv") {
      o.write_tsv = v;
    } else {
      Usage("unknown flag --" + key);
    }
  }
  if (o.batch < 1 || o.threads < 1 || o.min_seconds <= 0 || o.buckets < 1) {
    Usage("sizes must be positive");
  }
  if (!(o.zipf_exponent > 0.0 && o.zipf_exponent <= 5.0))
    Usage("--zipf-exponent must be in (0, 5]");
  if (o.modes.count("reader") && o.buckets != kDefaultBuckets) {
    Usage("the reader mode uses the Criteo mapping's 100000 buckets");
  }
  for (const std::string& m : o.modes) {
    if (m != "train" && m != "infer" && m != "latency" && m != "reader" && m != "memory") {
      Usage("unknown mode " + m);
    }
  }
  return o;
}

crank::RankingConfig MakeConfig(const std::string& name, uint64_t seed, int64_t buckets) {
  crank::RankingConfig c;
  c.dense_features = kDense;
  for (int f = 1; f <= kSparse; ++f) {
    std::string n = "C";  // the Criteo names the reader produces
    n += std::to_string(f);
    c.tables.push_back({.name = n, .vocabulary_size = buckets + 1, .dim = kDim});
    c.features.push_back({.name = n, .table = n});
  }
  c.top = {512, 256, 1};
  if (name == "criteo-dlrm") {
    c.bottom = {512, 256, 64, 16};
    c.interaction = crank::Interaction::kDot;
  } else if (name == "tfrs-default") {
    c.bottom = {256, 64, 16};
    c.interaction = crank::Interaction::kDot;
  } else if (name == "dcn") {
    c.bottom = {256, 64, 16};
    c.interaction = crank::Interaction::kCross;
    c.cross_layers = 1;
  } else {
    Usage("unknown config " + name);
  }
  c.seed = seed;
  return c;
}

// Forward GEMM flops per example: 2 in out per dense layer, plus the interaction.
double ForwardFlopsPerExample(const crank::RankingConfig& c) {
  double flops = 0.0;
  int64_t in = c.dense_features;
  for (int64_t out : c.bottom) {
    flops += 2.0 * static_cast<double>(in * out);
    in = out;
  }
  const int64_t hb = in;
  int64_t hi = 0;
  if (c.interaction == crank::Interaction::kDot) {
    const int64_t f = kSparse + 1;
    hi = f * (f - 1) / 2;
    flops += 2.0 * static_cast<double>(hi * kDim);
  } else {
    const int64_t w = kSparse * kDim + hb;
    hi = w;
    flops += 2.0 * static_cast<double>(w * w) * c.cross_layers;
  }
  in = (c.concat_dense ? hb : 0) + hi;
  for (int64_t out : c.top) {
    flops += 2.0 * static_cast<double>(in * out);
    in = out;
  }
  return flops;
}

std::unique_ptr<crank::Optimizer> MakeOpt(const std::string& kind, float lr) {
  if (kind == "sgd") return crank::MakeSgd({.learning_rate = lr});
  if (kind == "adagrad") return crank::MakeAdagrad({.learning_rate = lr});
  if (kind == "adam") return crank::MakeAdam({.learning_rate = lr});
  Usage("unknown optimizer " + kind);
}

// Draws the ids of one feature: uniform in [0, buckets], or Zipf ranks hashed into [1, buckets].
class IdSampler {
 public:
  explicit IdSampler(const Options& o) : zipf_(o.zipf), buckets_(o.buckets) {
    const double s = o.zipf_exponent, n = static_cast<double>(o.buckets);
    one_minus_s_ = 1.0 - s;
    log_n1_ = std::log(n + 1.0);
    a_ = std::abs(one_minus_s_) < 1e-9 ? 0.0 : std::pow(n + 1.0, one_minus_s_) - 1.0;
  }

  int64_t Draw(crank::Rng& rng, int feature) const {
    if (!zipf_) return static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(buckets_ + 1)));
    const double u = rng.UniformDouble();
    // Inverse CDF of a bounded power law on [1, buckets + 1), as crank gen draws token ranks.
    const double x = a_ == 0.0 ? std::exp(u * log_n1_) : std::pow(1.0 + u * a_, 1.0 / one_minus_s_);
    const uint64_t rank = static_cast<uint64_t>(
        std::clamp<double>(std::floor(x) - 1.0, 0.0, static_cast<double>(buckets_ - 1)));
    const uint64_t salt = crank::Mix64(0x5a1fULL + static_cast<uint64_t>(feature));
    return 1 + static_cast<int64_t>(crank::Mix64(rank ^ salt) % static_cast<uint64_t>(buckets_));
  }

 private:
  bool zipf_;
  int64_t buckets_;
  double one_minus_s_ = 0.0, log_n1_ = 0.0, a_ = 0.0;
};

// `rows` examples like the peer's synthetic data, as batches of `batch` (rows rounded up).
std::vector<crank::Batch> SyntheticBatches(int64_t rows, int64_t batch, const Options& o,
                                           uint64_t seed) {
  crank::Rng rng(seed);
  const IdSampler sampler(o);
  const int64_t n = std::max<int64_t>(1, (rows + batch - 1) / batch);
  std::vector<crank::Batch> out(static_cast<size_t>(n));
  for (crank::Batch& b : out) {
    b.dense.Resize({batch, kDense});
    for (int64_t i = 0; i < b.dense.size(); ++i) b.dense[i] = rng.UniformFloat() * 5.0f;
    b.sparse.resize(kSparse);
    for (int f = 0; f < kSparse; ++f) {
      crank::SparseFeature& sf = b.sparse[static_cast<size_t>(f)];
      sf.ids.resize(static_cast<size_t>(batch));
      sf.offsets.resize(static_cast<size_t>(batch + 1));
      for (int64_t i = 0; i < batch; ++i) {
        sf.ids[static_cast<size_t>(i)] = sampler.Draw(rng, f);
        sf.offsets[static_cast<size_t>(i)] = i;
      }
      sf.offsets[static_cast<size_t>(batch)] = batch;
    }
    b.labels.Resize({batch});
    for (int64_t i = 0; i < batch; ++i) b.labels[i] = rng.UniformFloat() < 0.25f ? 1.0f : 0.0f;
  }
  return out;
}

// The batches as a Criteo TSV for the peer: label, 13 integer dense values (rounded), 26 tokens
// hex(id - 1) (the peer maps token t to int(t, 16) % buckets + 1, so back to id), "" for id 0.
void WriteCriteoTsv(const std::vector<crank::Batch>& batches, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  if (!out) throw std::runtime_error("cannot write " + path);
  char buf[32];
  for (const crank::Batch& b : batches) {
    for (int64_t i = 0; i < b.size(); ++i) {
      out << (b.labels[i] > 0.5f ? '1' : '0');
      for (int64_t j = 0; j < kDense; ++j) {
        out << '\t' << static_cast<int>(std::lround(b.dense[i * kDense + j]));
      }
      for (const crank::SparseFeature& f : b.sparse) {
        const int64_t id = f.ids[static_cast<size_t>(i)];
        out << '\t';
        if (id > 0) {
          std::snprintf(buf, sizeof(buf), "%llx", static_cast<unsigned long long>(id - 1));
          out << buf;
        }
      }
      out << '\n';
    }
  }
  if (!out.flush()) throw std::runtime_error("write failed: " + path);
}

int64_t BatchBytes(const std::vector<crank::Batch>& batches) {
  int64_t bytes = 0;
  for (const crank::Batch& b : batches) {
    bytes += 4 * (b.dense.size() + b.labels.size() + b.weights.size());
    for (const crank::SparseFeature& f : b.sparse) {
      bytes += static_cast<int64_t>(8 * (f.ids.size() + f.offsets.size()) + 4 * f.weights.size());
    }
  }
  return bytes;
}

// Best GFLOP/s of a 2048^3 sgemm on the current thread count.
double MeasureGemmPeak() {
  const int64_t n = 2048;
  std::vector<float> a(static_cast<size_t>(n * n), 0.5f), b(a), c(a.size());
  double best = 1e30;
  for (int r = 0; r < 4; ++r) {
    const auto t0 = Clock::now();
    crank::Gemm(false, false, n, n, n, 1.0f, a.data(), n, b.data(), n, 0.0f, c.data(), n);
    if (r > 0) best = std::min(best, Since(t0));
  }
  return 2.0 * n * n * n / best / 1e9;
}

struct Timed {
  int64_t examples = 0;
  int64_t steps = 0;
  double seconds = 0.0;
  double last_loss = 0.0;
  double rate() const { return seconds > 0 ? static_cast<double>(examples) / seconds : 0.0; }
};

// Warm-up (a few steps, at least 0.3 s), then whole steps until min_seconds have passed.
template <typename Step>
Timed TimeLoop(Step step, double min_seconds) {
  Timed t;
  const auto w0 = Clock::now();
  for (int i = 0; i < 3 || Since(w0) < 0.3; ++i) step(&t);
  t = Timed{};
  const auto t0 = Clock::now();
  while (t.seconds < min_seconds) {
    step(&t);
    t.seconds = Since(t0);
  }
  return t;
}

class Bench {
 public:
  explicit Bench(const Options& o) : o_(o), config_(MakeConfig(o.config, o.seed, o.buckets)) {
    for (crank::TableConfig& t : config_.tables) {
      t.precision = crank::ParseEmbeddingPrecision(o.embedding_precision);
    }
    baseline_rss_ = PeakRssBytes();
    model_ = std::make_unique<crank::Ranking>(config_);
    std::vector<crank::CompositeOptimizer::Part> parts;
    parts.emplace_back(MakeOpt(o.emb_opt, o.emb_lr), model_->EmbeddingTrainableVariables());
    parts.emplace_back(MakeOpt(o.dense_opt, o.dense_lr), model_->DenseTrainableVariables());
    model_->SetOptimizer(std::make_unique<crank::CompositeOptimizer>(std::move(parts)));
    model_->optimizer()->Prepare(model_->TrainableVariables());
    flops_fwd_ = ForwardFlopsPerExample(config_);
    if (o_.modes.count("train") && o_.gemm_peak <= 0) o_.gemm_peak = MeasureGemmPeak();
  }

  void Run() {
    if (o_.modes.count("reader")) Reader();  // first: its memory reading excludes the pools
    if (o_.modes.count("train")) Train();
    if (o_.modes.count("infer")) Infer();
    if (o_.modes.count("latency")) Latency();
    if (o_.modes.count("memory") && !o_.modes.count("reader")) Memory("in_memory", data_bytes_);
  }

 private:
  void Head(const char* benchmark, int64_t batch) const {
    std::printf(
        "{\"benchmark\": \"%s\", \"engine\": \"crank\", \"config\": \"%s\", "
        "\"batch\": %lld, \"threads\": %d, \"precision\": \"%s\", \"gemm_backend\": \"%s\", "
        "\"omp_wait\": \"%s\", \"buckets\": %lld, \"ids\": \"%s\", "
        "\"embedding_precision\": \"%s\", ",
        benchmark, o_.config.c_str(), static_cast<long long>(batch), o_.threads,
        o_.precision.c_str(), o_.gemm_backend.c_str(), crank::OpenMpWaitDescription().c_str(),
        static_cast<long long>(o_.buckets), o_.zipf ? "zipf" : "uniform",
        o_.embedding_precision.c_str());
  }

  void Train() {
    const int64_t rows = o_.rows > 0 ? o_.rows : std::max<int64_t>(131072, 16 * o_.batch);
    auto batches = SyntheticBatches(rows, o_.batch, o_, o_.seed + 100);
    if (!o_.write_tsv.empty()) WriteCriteoTsv(batches, o_.write_tsv);
    data_bytes_ = std::max(data_bytes_, BatchBytes(batches));
    size_t next = 0;
    const Timed t = TimeLoop(
        [&](Timed* acc) {
          const crank::StepResult r = model_->TrainStep(batches[next]);
          next = (next + 1) % batches.size();
          acc->examples += o_.batch;
          acc->steps += 1;
          acc->last_loss = r.loss;
        },
        o_.min_seconds);
    const double flops = 3.0 * flops_fwd_;
    const double gflops = flops * t.rate() / 1e9;
    Head("train", o_.batch);
    std::printf(
        "\"examples_per_sec\": %.1f, \"steps\": %lld, \"seconds\": %.3f, "
        "\"flops_per_example\": %.0f, \"gflops\": %.2f, \"gemm_peak_gflops\": %.1f, "
        "\"fraction_of_gemm_peak\": %.4f, \"last_loss\": %.5f, \"rows\": %lld}\n",
        t.rate(), static_cast<long long>(t.steps), t.seconds, flops, gflops, o_.gemm_peak,
        o_.gemm_peak > 0 ? gflops / o_.gemm_peak : 0.0, t.last_loss, static_cast<long long>(rows));
    std::fflush(stdout);
  }

  void Infer() {
    const int64_t b = 2048;
    auto batches = SyntheticBatches(65536, b, o_, o_.seed + 200);
    data_bytes_ = std::max(data_bytes_, BatchBytes(batches));
    crank::Tensor predictions;
    size_t next = 0;
    const Timed t = TimeLoop(
        [&](Timed* acc) {
          model_->Predict(batches[next], &predictions);
          next = (next + 1) % batches.size();
          acc->examples += b;
          acc->steps += 1;
        },
        o_.min_seconds);
    const double gflops = flops_fwd_ * t.rate() / 1e9;
    Head("infer", b);
    std::printf(
        "\"examples_per_sec\": %.1f, \"steps\": %lld, \"seconds\": %.3f, "
        "\"flops_per_example\": %.0f, \"gflops\": %.2f}\n",
        t.rate(), static_cast<long long>(t.steps), t.seconds, flops_fwd_, gflops);
    std::fflush(stdout);
  }

  void Latency() {
    auto batches = SyntheticBatches(1024, 1, o_, o_.seed + 300);
    crank::Tensor predictions;
    for (int i = 0; i < 200; ++i)
      model_->Predict(batches[static_cast<size_t>(i) % 1024], &predictions);
    std::vector<double> us;
    const auto t0 = Clock::now();
    while (us.size() < 200'000 && (Since(t0) < o_.min_seconds || us.size() < 1000)) {
      const auto c0 = Clock::now();
      model_->Predict(batches[us.size() % batches.size()], &predictions);
      us.push_back(Since(c0) * 1e6);
    }
    std::sort(us.begin(), us.end());
    const auto pct = [&](double p) {
      return us[std::min(us.size() - 1, static_cast<size_t>(p * static_cast<double>(us.size())))];
    };
    Head("latency", 1);
    std::printf("\"median_us\": %.2f, \"p99_us\": %.2f, \"min_us\": %.2f, \"calls\": %zu}\n",
                pct(0.5), pct(0.99), us.front(), us.size());
    std::fflush(stdout);
  }

  // Streaming pass over a generated Criteo file vs the same batches from memory.
  void Reader() {
    const std::string path = "/tmp/crank_bench_" + std::to_string(getpid()) + ".tsv";
    {
      crank::SyntheticOptions so;
      so.rows = o_.reader_rows;
      so.seed = o_.seed;
      std::ofstream out(path, std::ios::binary);
      crank::GenerateSyntheticCriteo(so, out);
    }
    struct Remove {
      std::string p;
      ~Remove() { std::remove(p.c_str()); }
    } remove{path};
    const auto mapping = std::make_shared<const crank::DataMapping>(
        crank::DataMapping::Build(crank::DataConfig{}, {}));
    crank::ReaderOptions ro;
    ro.batch_size = o_.batch;

    // Warm the model up (allocations, first-touch of the caches) on synthetic batches.
    {
      auto warm = SyntheticBatches(2 * o_.batch, o_.batch, o_, o_.seed + 400);
      const auto w0 = Clock::now();
      for (int i = 0; i < 3 || Since(w0) < 0.3; ++i)
        model_->TrainStep(warm[static_cast<size_t>(i) % warm.size()]);
    }

    // Streaming: parse on the reader's thread while training. The pass stops early after
    // 4 x min_seconds (a slow, contended machine); the in-memory pass then runs as many batches.
    Timed stream;
    int64_t file_bytes = 0;
    {
      auto reader = crank::MakeBatchReader(mapping, {path}, ro, /*in_memory=*/false);
      crank::Batch batch;
      const auto t0 = Clock::now();
      while (Since(t0) < 4 * o_.min_seconds && reader->Next(&batch)) {
        stream.last_loss = model_->TrainStep(batch).loss;
        stream.examples += batch.size();
        stream.steps += 1;
      }
      stream.seconds = Since(t0);
      file_bytes = reader->stats().bytes_read;
    }
    streaming_rss_ = PeakRssBytes();

    // The same batches, parsed beforehand and held in memory.
    std::vector<crank::Batch> batches;
    {
      auto reader = crank::MakeBatchReader(mapping, {path}, ro, /*in_memory=*/true);
      crank::Batch batch;
      while (static_cast<int64_t>(batches.size()) < stream.steps && reader->Next(&batch)) {
        batches.push_back(batch);
      }
    }
    Timed mem;
    const auto t0 = Clock::now();
    for (const crank::Batch& b : batches) {
      mem.last_loss = model_->TrainStep(b).loss;
      mem.examples += b.size();
      mem.steps += 1;
    }
    mem.seconds = Since(t0);

    Head("reader", o_.batch);
    std::printf(
        "\"rows\": %lld, \"file_rows\": %lld, \"file_bytes\": %lld, "
        "\"streaming_examples_per_sec\": %.1f, \"in_memory_examples_per_sec\": %.1f, "
        "\"reader_overhead_pct\": %.2f, \"streaming_mb_per_sec\": %.1f}\n",
        static_cast<long long>(stream.examples), static_cast<long long>(o_.reader_rows),
        static_cast<long long>(file_bytes), stream.rate(), mem.rate(),
        100.0 * (1.0 - stream.rate() / mem.rate()),
        static_cast<double>(file_bytes) / stream.seconds / 1e6);
    std::fflush(stdout);
    if (o_.modes.count("memory")) Memory("streaming", 0, streaming_rss_);
  }

  void Memory(const char* data, int64_t data_bytes, int64_t peak_rss = 0) {
    if (peak_rss == 0) peak_rss = PeakRssBytes();
    int64_t params = 0, grads = 0, state = 0;
    for (crank::Variable* v : model_->TrainableVariables()) {
      params += crank::EmbeddingPrecisionBytes(v->precision) * v->size();
      grads += 4 * (v->sparse ? v->sparse_grad.rows.size() : v->grad.size());
    }
    for (const auto& [name, t] : model_->optimizer()->StateTensors()) state += 4 * t->size();
    const int64_t model_bytes = params + state;
    Head("memory", o_.batch);
    std::printf(
        "\"data\": \"%s\", \"peak_rss_bytes\": %lld, \"baseline_rss_bytes\": %lld, "
        "\"param_bytes\": %lld, \"optimizer_state_bytes\": %lld, \"grad_bytes\": %lld, "
        "\"data_bytes\": %lld, \"optimizers\": \"%s/%s\", "
        "\"overhead_over_model_pct\": %.1f}\n",
        data, static_cast<long long>(peak_rss), static_cast<long long>(baseline_rss_),
        static_cast<long long>(params), static_cast<long long>(state),
        static_cast<long long>(grads), static_cast<long long>(data_bytes), o_.emb_opt.c_str(),
        o_.dense_opt.c_str(),
        100.0 * static_cast<double>(peak_rss - baseline_rss_ - data_bytes - model_bytes) /
            static_cast<double>(model_bytes));
    std::fflush(stdout);
  }

  Options o_;
  crank::RankingConfig config_;
  std::unique_ptr<crank::Ranking> model_;
  double flops_fwd_ = 0.0;
  int64_t baseline_rss_ = 0;
  int64_t streaming_rss_ = 0;
  int64_t data_bytes_ = 0;
};

}  // namespace

int main(int argc, char** argv) {
  if (argc == 2 && std::string(argv[1]) == "--runtime-env") {
    // What crank's programs would set now (bench/run.sh gives the same to both engines).
    for (const auto& [name, value] : crank::RecommendedRuntimeEnvironment()) {
      std::printf("%s=%s\n", name.c_str(), value.c_str());
    }
    return 0;
  }
  // The same process settings as the crank CLI (OpenMP waiting, OpenBLAS kernels).
  crank::ReexecWithRuntimeEnvironment(argv);
  const Options o = ParseFlags(argc, argv);
  try {
    crank::SetComputeThreads(o.threads);
    crank::SetGemmPrecision(crank::ParseGemmPrecision(o.precision));
    crank::SetGemmBackend(crank::ParseGemmBackend(o.gemm_backend));
    Bench bench(o);
    bench.Run();
  } catch (const std::exception& e) {
    std::fprintf(stderr, "train_throughput: %s\n", e.what());
    return 1;
  }
  return 0;
}
