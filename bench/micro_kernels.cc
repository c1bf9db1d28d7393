// micro_kernels: Google Benchmark micro-benchmarks of crank's kernels at the shapes of the
// Criteo DLRM / DCN models, and of the Criteo text parser.
//
//   LinearForward / LinearBackward   y = relu(x W + b) and its three gradients (GFLOP/s)
//   EmbeddingBag{Forward,Backward}   26 tables x 100,001 rows x 16, one id per example (lookups/s)
//   SparseAdagrad / SparseSgd        optimizer update of the rows a batch touched (rows/s)
//   DotInteraction{Forward,Backward} F = 27 features of E = 16 (GFLOP/s)
//   Cross{Forward,Backward}          one full-rank DCN-v2 layer, W = 432 (GFLOP/s)
//   CriteoBufferParser               BufferParser over generated Criteo TSV (bytes/s, one core)
//   CriteoStreamingReader            StreamingReader pass over a generated file (bytes/s)
//
// The compute thread count (crank::SetComputeThreads) is --crank_threads=N (default 1); all
// other flags are Google Benchmark's (e.g. --benchmark_min_time=0.2).

#include <benchmark/benchmark.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/data/batch_reader.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/kernels/cross.h"
#include "crank/kernels/dot_interaction.h"
#include "crank/kernels/embedding_bag.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/linear.h"
#include "crank/layers/variable.h"
#include "crank/optim/optimizer.h"
#include "crank/tensor/batch.h"

namespace {

constexpr int64_t kTables = 26;
constexpr int64_t kRows = 100'001;  // 100,000 hash buckets + the missing id 0
constexpr int64_t kDim = 16;

std::vector<float> RandomVector(int64_t n, uint64_t seed, float scale = 1.0f) {
  crank::Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = (rng.UniformFloat() - 0.5f) * 2.0f * scale;
  return v;
}

benchmark::Counter FlopRate(double flops_per_iteration) {
  return benchmark::Counter(flops_per_iteration, benchmark::Counter::kIsIterationInvariantRate,
                            benchmark::Counter::OneK::kIs1000);
}

// ---- Dense layers ------------------------------------------------------------------------

void BM_LinearForward(benchmark::State& state) {
  const int64_t b = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = RandomVector(b * in, 1), w = RandomVector(in * out, 2, 0.1f);
  const std::vector<float> bias(static_cast<size_t>(out), 0.01f);
  std::vector<float> y(static_cast<size_t>(b * out));
  for (auto _ : state) {
    crank::LinearForward(x.data(), w.data(), bias.data(), crank::Activation::kRelu, b, in, out,
                         y.data());
    benchmark::DoNotOptimize(y.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * b);
  state.counters["FLOPS"] = FlopRate(2.0 * b * in * out);
}

void BM_LinearBackward(benchmark::State& state) {
  const int64_t b = state.range(0), in = state.range(1), out = state.range(2);
  const auto x = RandomVector(b * in, 1), w = RandomVector(in * out, 2, 0.1f);
  const auto dy = RandomVector(b * out, 3);
  const std::vector<float> bias(static_cast<size_t>(out), 0.01f);
  std::vector<float> y(static_cast<size_t>(b * out)), d_pre(y.size()), dx(x.size()), dw(w.size()),
      db(bias.size());
  crank::LinearForward(x.data(), w.data(), bias.data(), crank::Activation::kRelu, b, in, out,
                       y.data());
  for (auto _ : state) {
    crank::LinearBackward(x.data(), w.data(), y.data(), dy.data(), crank::Activation::kRelu, b, in,
                          out, d_pre.data(), dw.data(), db.data(), dx.data());
    benchmark::DoNotOptimize(dx.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * b);
  state.counters["FLOPS"] = FlopRate(4.0 * b * in * out);
}

// B, in, out: the layers of criteo-dlrm (bottom 13-512-256-64-16, top 367-512-256-1), the
// DLRM reference top input 479, and DCN's top input 448.
void LinearArgs(benchmark::internal::Benchmark* b) {
  for (int64_t batch : {128, 2048}) {
    b->Args({batch, 13, 512});
    b->Args({batch, 512, 256});
    b->Args({batch, 367, 512});
    b->Args({batch, 479, 512});
    b->Args({batch, 256, 64});
  }
  b->ArgNames({"B", "in", "out"});
}
BENCHMARK(BM_LinearForward)->Apply(LinearArgs)->UseRealTime();
BENCHMARK(BM_LinearBackward)->Apply(LinearArgs)->UseRealTime();

// ---- Embedding bags ----------------------------------------------------------------------

struct EmbeddingFixture {
  explicit EmbeddingFixture(int64_t batch) : b(batch) {
    tables = RandomVector(kTables * kRows * kDim, 7, 0.25f);
    crank::Rng rng(8);
    ids.resize(kTables);
    offsets.resize(static_cast<size_t>(b + 1));
    for (int64_t i = 0; i <= b; ++i) offsets[static_cast<size_t>(i)] = i;
    for (auto& f : ids) {
      f.resize(static_cast<size_t>(b));
      for (auto& id : f) id = static_cast<int64_t>(rng.UniformInt(kRows));
    }
    out.resize(static_cast<size_t>(kTables * b * kDim));
  }
  int64_t b;
  std::vector<float> tables;              // kTables x (V, E)
  std::vector<std::vector<int64_t>> ids;  // kTables x (B)
  std::vector<int64_t> offsets;           // (B + 1)
  std::vector<float> out;                 // kTables x (B, E)
};

void BM_EmbeddingBagForward(benchmark::State& state) {
  EmbeddingFixture f(state.range(0));
  for (auto _ : state) {
    for (int64_t t = 0; t < kTables; ++t) {
      crank::EmbeddingBagForward(f.tables.data() + t * kRows * kDim, kDim,
                                 f.ids[static_cast<size_t>(t)].data(), f.offsets.data(), nullptr,
                                 f.b, crank::Pooling::kMean, f.out.data() + t * f.b * kDim);
    }
    benchmark::DoNotOptimize(f.out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kTables * f.b);  // lookups
  state.SetBytesProcessed(state.iterations() * kTables * f.b * kDim * 4);
}

// Coefficients, grouping by id and the merged row-sparse gradient, per table.
void BM_EmbeddingBagBackward(benchmark::State& state) {
  EmbeddingFixture f(state.range(0));
  const int64_t n = f.b;
  const auto d_out = RandomVector(kTables * n * kDim, 9);
  std::vector<float> coef(static_cast<size_t>(n)), grad_rows(static_cast<size_t>(n * kDim));
  std::vector<int64_t> order(static_cast<size_t>(n)),
      scratch(static_cast<size_t>(crank::GroupIdsScratchSize(n))), unique(static_cast<size_t>(n)),
      segments(static_cast<size_t>(n + 1));
  std::vector<const float*> d_rows(static_cast<size_t>(n));
  int64_t touched = 0;
  for (auto _ : state) {
    touched = 0;
    for (int64_t t = 0; t < kTables; ++t) {
      const float* d = d_out.data() + t * n * kDim;
      for (int64_t k = 0; k < n; ++k) d_rows[static_cast<size_t>(k)] = d + k * kDim;
      crank::EmbeddingBagCoefficients(f.offsets.data(), nullptr, f.b, crank::Pooling::kMean,
                                      coef.data());
      const int64_t u =
          crank::GroupIds(f.ids[static_cast<size_t>(t)].data(), n, kRows, order.data(),
                          scratch.data(), unique.data(), segments.data());
      crank::EmbeddingBagBackward(u, kDim, segments.data(), order.data(), coef.data(),
                                  d_rows.data(), grad_rows.data());
      touched += u;
      benchmark::DoNotOptimize(grad_rows.data());
    }
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * kTables * f.b);
  state.counters["unique_rows"] = static_cast<double>(touched);
}
BENCHMARK(BM_EmbeddingBagForward)->Arg(2048)->ArgName("B")->UseRealTime();
BENCHMARK(BM_EmbeddingBagBackward)->Arg(2048)->ArgName("B")->UseRealTime();

// ---- Sparse optimizer updates -------------------------------------------------------------

// 26 tables with the row-sparse gradient of one batch of B uniform ids each.
struct SparseVariables {
  explicit SparseVariables(int64_t batch) {
    crank::Rng rng(11);
    vars.resize(kTables);
    for (int64_t t = 0; t < kTables; ++t) {
      crank::Variable& v = vars[static_cast<size_t>(t)];
      v.name = "embedding/t" + std::to_string(t);
      v.sparse = true;
      v.value.Resize({kRows, kDim});
      for (int64_t i = 0; i < v.value.size(); ++i) v.value[i] = rng.UniformFloat() - 0.5f;
      std::vector<char> seen(static_cast<size_t>(kRows), 0);
      for (int64_t i = 0; i < batch; ++i) seen[rng.UniformInt(kRows)] = 1;
      for (int64_t r = 0; r < kRows; ++r) {
        if (seen[static_cast<size_t>(r)]) v.sparse_grad.ids.push_back(r);
      }
      const auto n = static_cast<int64_t>(v.sparse_grad.ids.size());
      v.sparse_grad.rows.Resize({n, kDim});
      for (int64_t i = 0; i < n * kDim; ++i)
        v.sparse_grad.rows[i] = 1e-3f * (rng.UniformFloat() - 0.5f);
      touched += n;
    }
    for (auto& v : vars) ptrs.push_back(&v);
  }
  std::vector<crank::Variable> vars;
  std::vector<crank::Variable*> ptrs;
  int64_t touched = 0;
};

void SparseUpdate(benchmark::State& state, std::unique_ptr<crank::Optimizer> opt) {
  SparseVariables s(state.range(0));
  opt->Prepare(s.ptrs);
  for (auto _ : state) {
    opt->Apply(s.ptrs);
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * s.touched);  // rows updated
}
void BM_SparseAdagrad(benchmark::State& state) {
  SparseUpdate(state, crank::MakeAdagrad({.learning_rate = 0.05f}));
}
void BM_SparseSgd(benchmark::State& state) {
  SparseUpdate(state, crank::MakeSgd({.learning_rate = 0.1f}));
}
BENCHMARK(BM_SparseAdagrad)->Arg(2048)->ArgName("B")->UseRealTime();
BENCHMARK(BM_SparseSgd)->Arg(2048)->ArgName("B")->UseRealTime();

// ---- Interactions ------------------------------------------------------------------------

constexpr int64_t kFeatures = 27;  // 26 embeddings + the bottom-stack output

void BM_DotInteractionForward(benchmark::State& state) {
  const int64_t b = state.range(0);
  const int64_t width = crank::DotInteractionOutputWidth(kFeatures, false, false);
  const auto t = RandomVector(b * kFeatures * kDim, 12);
  std::vector<float> out(static_cast<size_t>(b * width));
  for (auto _ : state) {
    crank::DotInteractionForward(t.data(), b, kFeatures, kDim, false, false, out.data(), width);
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * b);
  state.counters["FLOPS"] = FlopRate(2.0 * b * width * kDim);
}

void BM_DotInteractionBackward(benchmark::State& state) {
  const int64_t b = state.range(0);
  const int64_t width = crank::DotInteractionOutputWidth(kFeatures, false, false);
  const auto t = RandomVector(b * kFeatures * kDim, 12);
  const auto d_out = RandomVector(b * width, 13);
  std::vector<float> d_t(t.size());
  for (auto _ : state) {
    crank::DotInteractionBackward(d_out.data(), width, t.data(), b, kFeatures, kDim, false, false,
                                  d_t.data());
    benchmark::DoNotOptimize(d_t.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * b);
  state.counters["FLOPS"] = FlopRate(4.0 * b * width * kDim);
}
BENCHMARK(BM_DotInteractionForward)->Arg(128)->Arg(2048)->ArgName("B")->UseRealTime();
BENCHMARK(BM_DotInteractionBackward)->Arg(128)->Arg(2048)->ArgName("B")->UseRealTime();

constexpr int64_t kCrossWidth = kTables * kDim + kDim;  // 432

struct CrossFixture {
  explicit CrossFixture(int64_t batch) : b(batch) {
    const int64_t w = kCrossWidth;
    kernel = RandomVector(w * w, 14, 0.05f);
    bias.assign(static_cast<size_t>(w), 0.0f);
    x0 = RandomVector(b * w, 15);
    act_out.resize(x0.size());
    out.resize(x0.size());
    d_out = RandomVector(b * w, 16);
    d_z.resize(x0.size());
    d_x0.resize(x0.size());
    d_x.resize(x0.size());
    d_kernel.resize(kernel.size());
    d_bias.resize(bias.size());
    weights.width = w;
    weights.kernel = kernel.data();
    weights.bias = bias.data();
    grads.d_kernel = d_kernel.data();
    grads.d_bias = d_bias.data();
  }
  int64_t b;
  std::vector<float> kernel, bias, x0, act_out, out, d_out, d_z, d_x0, d_x, d_kernel, d_bias;
  crank::CrossWeights weights;
  crank::CrossGrads grads;
};

void BM_CrossForward(benchmark::State& state) {
  CrossFixture f(state.range(0));
  for (auto _ : state) {
    crank::CrossForward(f.weights, f.b, f.x0.data(), f.x0.data(), nullptr, f.act_out.data(),
                        f.out.data(), kCrossWidth);
    benchmark::DoNotOptimize(f.out.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * f.b);
  state.counters["FLOPS"] = FlopRate(2.0 * f.b * kCrossWidth * kCrossWidth);
}

void BM_CrossBackward(benchmark::State& state) {
  CrossFixture f(state.range(0));
  crank::CrossForward(f.weights, f.b, f.x0.data(), f.x0.data(), nullptr, f.act_out.data(),
                      f.out.data(), kCrossWidth);
  for (auto _ : state) {
    crank::CrossBackward(f.weights, f.grads, f.b, f.x0.data(), f.x0.data(), nullptr,
                         f.act_out.data(), f.d_out.data(), kCrossWidth, f.d_z.data(), nullptr,
                         f.d_x0.data(), f.d_x.data());
    benchmark::DoNotOptimize(f.d_x.data());
    benchmark::ClobberMemory();
  }
  state.SetItemsProcessed(state.iterations() * f.b);
  state.counters["FLOPS"] = FlopRate(4.0 * f.b * kCrossWidth * kCrossWidth);
}
BENCHMARK(BM_CrossForward)->Arg(128)->Arg(2048)->ArgName("B")->UseRealTime();
BENCHMARK(BM_CrossBackward)->Arg(128)->Arg(2048)->ArgName("B")->UseRealTime();

// ---- Criteo text -------------------------------------------------------------------------

std::string SyntheticCriteoText(int64_t rows) {
  crank::SyntheticOptions o;
  o.rows = rows;
  o.seed = 3;
  std::ostringstream text;
  crank::GenerateSyntheticCriteo(o, text);
  return text.str();
}

std::shared_ptr<const crank::DataMapping> CriteoMapping() {
  return std::make_shared<const crank::DataMapping>(
      crank::DataMapping::Build(crank::DataConfig{}, {}));
}

// Parse + map into one Batch, one thread: the reader's per-core parsing rate.
void BM_CriteoBufferParser(benchmark::State& state) {
  const std::string text = SyntheticCriteoText(state.range(0));
  crank::BufferParser parser(CriteoMapping());
  crank::Batch batch;
  int64_t rows = 0;
  for (auto _ : state) {
    rows = parser.Parse(text, &batch);
    benchmark::DoNotOptimize(batch.dense.data());
  }
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * rows);
  state.counters["bytes_per_row"] = static_cast<double>(text.size()) / static_cast<double>(rows);
}
BENCHMARK(BM_CriteoBufferParser)->Arg(20'000)->ArgName("rows")->UseRealTime();

// A full StreamingReader pass (file reads, background parsing thread, batch hand-over).
void BM_CriteoStreamingReader(benchmark::State& state) {
  const std::string path = "/tmp/crank_bench_reader_" + std::to_string(getpid()) + ".tsv";
  const std::string text = SyntheticCriteoText(state.range(0));
  {
    std::ofstream out(path, std::ios::binary);
    out << text;
  }
  const auto mapping = CriteoMapping();
  crank::ReaderOptions options;
  options.batch_size = 2048;
  crank::Batch batch;
  for (auto _ : state) {
    auto reader = crank::MakeBatchReader(mapping, {path}, options, /*in_memory=*/false);
    while (reader->Next(&batch)) benchmark::DoNotOptimize(batch.dense.data());
  }
  std::remove(path.c_str());
  state.SetBytesProcessed(state.iterations() * static_cast<int64_t>(text.size()));
  state.SetItemsProcessed(state.iterations() * state.range(0));
}
BENCHMARK(BM_CriteoStreamingReader)->Arg(50'000)->ArgName("rows")->UseRealTime();

}  // namespace

int main(int argc, char** argv) {
  int threads = 1;
  int kept = 1;
  for (int i = 1; i < argc; ++i) {  // take out --crank_threads=N, leave the rest to benchmark
    if (std::strncmp(argv[i], "--crank_threads=", 16) == 0) {
      threads = std::atoi(argv[i] + 16);
    } else {
      argv[kept++] = argv[i];
    }
  }
  argc = kept;
  crank::SetComputeThreads(threads);
  benchmark::AddCustomContext("crank_threads", std::to_string(threads));
  benchmark::AddCustomContext("blas", crank::GemmBackendDescription());
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
