// Per-shape GEMM timings behind crank::Gemm's library rule (docs/performance.md, "Which library
// for which band"): for each GEMM of a model's training step (forward, weight gradient X^T G,
// input gradient G W^T), the median time of
//   crank     crank::Gemm as shipped (its band and library rule)
//   dnnMT     one oneDNN call on all threads (the library's own threading, before the bands)
//   blasMT    one OpenBLAS call on all threads
//   dnnRows / blasRows   bands of whole rows (crank's band rule), each a single-threaded call
//   dnnCols / blasCols   bands of whole columns (the same rule applied to N)
// The variants of a shape run interleaved, round by round, so a slow moment of a shared machine
// hits all of them alike. Usage: gemm_shapes [--config=criteo-dlrm|dcn] [--batch=2048]
//   [--threads=2] [--rounds=41]
#include <cblas.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "crank/kernels/gemm.h"
#include "crank/kernels/gemm_onednn.h"

namespace {

using Kernel = void (*)(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                        const float*, int64_t, float, float*, int64_t);

void Blas(bool ta, bool tb, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  cblas_sgemm(CblasRowMajor, ta ? CblasTrans : CblasNoTrans, tb ? CblasTrans : CblasNoTrans,
              static_cast<int>(m), static_cast<int>(n), static_cast<int>(k), alpha, a,
              static_cast<int>(lda), b, static_cast<int>(ldb), beta, c, static_cast<int>(ldc));
}

// crank's band rule (kernels/gemm.cc): at most 4 bands of a multiple of 64 along one side.
void Banded(Kernel kernel, bool columns, int threads, bool ta, bool tb, int64_t m, int64_t n,
            int64_t k, const float* a, int64_t lda, const float* b, int64_t ldb, float* c,
            int64_t ldc) {
  const int64_t extent = columns ? n : m;
  const int64_t even = (extent + 3) / 4;
  const int64_t band = std::max<int64_t>(64, (even + 63) / 64 * 64);
  const int64_t bands = (extent + band - 1) / band;
#pragma omp parallel for schedule(static) \
    num_threads(static_cast <int>(std::min <int64_t>(threads, bands)))
  for (int64_t t = 0; t < bands; ++t) {
    const int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    const int64_t s = t * band, len = std::min(band, extent - s);
    if (columns) {
      kernel(ta, tb, m, len, k, 1.f, a, lda, tb ? b + s * ldb : b + s, ldb, 0.f, c + s, ldc);
    } else {
      kernel(ta, tb, len, n, k, 1.f, ta ? a + s : a + s * lda, lda, b, ldb, 0.f, c + s * ldc, ldc);
    }
    omp_set_num_threads(saved);
  }
}

struct Shape {
  bool ta, tb;
  int64_t m, n, k;
};

}  // namespace

int main(int argc, char** argv) {
  std::string config = "criteo-dlrm";
  int64_t batch = 2048;
  int threads = 2, rounds = 41;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    const size_t eq = arg.find('=');
    const std::string key = arg.substr(0, eq),
                      v = eq == std::string::npos ? "" : arg.substr(eq + 1);
    if (key == "--config")
      config = v;
    else if (key == "--batch")
      batch = std::atoll(v.c_str());
    else if (key == "--threads")
      threads = std::atoi(v.c_str());
    else if (key == "--rounds")
      rounds = std::atoi(v.c_str());
    else {
      std::fprintf(
          stderr,
          "usage: gemm_shapes [--config=criteo-dlrm|dcn] [--batch=N] [--threads=N] [--rounds=N]\n");
      return 2;
    }
  }
  crank::SetComputeThreads(threads);
  // The bench configurations of train_throughput: 13 dense features, 26 tables of dimension 16.
  std::vector<int64_t> bottom = {13, 512, 256, 64, 16}, top = {367, 512, 256, 1};
  std::vector<Shape> shapes;
  if (config == "dcn") {
    bottom = {13, 256, 64, 16};
    top = {448, 512, 256, 1};
    shapes = {{false, false, batch, 432, 432},
              {true, false, 432, 432, batch},
              {false, true, batch, 432, 432}};
  } else if (config != "criteo-dlrm") {
    std::fprintf(stderr, "gemm_shapes: unknown config %s\n", config.c_str());
    return 2;
  }
  for (const auto* mlp : {&bottom, &top}) {
    for (size_t i = 0; i + 1 < mlp->size(); ++i) {
      const int64_t in = (*mlp)[i], out = (*mlp)[i + 1];
      shapes.push_back({false, false, batch, out, in});  // forward
      shapes.push_back({true, false, in, out, batch});   // weight gradient X^T G
      if (i > 0 || mlp == &top) shapes.push_back({false, true, batch, in, out});  // input gradient
    }
  }
  const char* names[] = {"crank", "dnnMT", "blasMT", "dnnRows", "blasRows", "dnnCols", "blasCols"};
  constexpr int kVariants = 7;
  double total[kVariants] = {};
  std::mt19937 gen(1);
  std::uniform_real_distribution<float> uniform(-1.f, 1.f);
  std::printf("config %s, batch %lld, %d threads, median of %d interleaved rounds, microseconds\n",
              config.c_str(), static_cast<long long>(batch), threads, rounds);
  std::printf("| op | M | N | K |");
  for (const char* n : names) std::printf(" %s |", n);
  std::printf("\n|---|---:|---:|---:|%s\n", std::string(kVariants * 5, '-').c_str());
  for (const Shape& s : shapes) {
    const int64_t a_cols = s.ta ? s.m : s.k, b_cols = s.tb ? s.k : s.n;
    std::vector<float> a(static_cast<size_t>(s.m * s.k)), b(static_cast<size_t>(s.k * s.n)),
        c(static_cast<size_t>(s.m * s.n));
    for (float& x : a) x = uniform(gen);
    for (float& x : b) x = uniform(gen);
    const float *pa = a.data(), *pb = b.data();
    float* pc = c.data();
    auto lib_mt = [&](Kernel kernel) {
      return
          [=, &s] { kernel(s.ta, s.tb, s.m, s.n, s.k, 1.f, pa, a_cols, pb, b_cols, 0.f, pc, s.n); };
    };
    auto banded = [&](Kernel kernel, bool columns) {
      return [=, &s] {
        Banded(kernel, columns, threads, s.ta, s.tb, s.m, s.n, s.k, pa, a_cols, pb, b_cols, pc,
               s.n);
      };
    };
    std::vector<std::function<void()>> variants = {[=, &s] {
                                                     crank::Gemm(s.ta, s.tb, s.m, s.n, s.k, 1.f, pa,
                                                                 a_cols, pb, b_cols, 0.f, pc, s.n);
                                                   },
                                                   lib_mt(crank::OneDnnGemmFp32),
                                                   lib_mt(Blas),
                                                   banded(crank::OneDnnGemmFp32, false),
                                                   banded(Blas, false),
                                                   banded(crank::OneDnnGemmFp32, true),
                                                   banded(Blas, true)};
    std::vector<std::vector<double>> times(kVariants);
    for (auto& v : variants) v(), v();
    for (int r = 0; r < rounds; ++r) {
      for (int i = 0; i < kVariants; ++i) {
        const auto start = std::chrono::steady_clock::now();
        variants[i]();
        times[i].push_back(
            std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start)
                .count());
      }
    }
    std::printf("| %s | %lld | %lld | %lld |",
                s.ta   ? "X^T G"
                : s.tb ? "G W^T"
                       : "X W",
                static_cast<long long>(s.m), static_cast<long long>(s.n),
                static_cast<long long>(s.k));
    for (int i = 0; i < kVariants; ++i) {
      std::nth_element(times[i].begin(), times[i].begin() + rounds / 2, times[i].end());
      total[i] += times[i][rounds / 2];
      std::printf(" %.0f |", times[i][rounds / 2]);
    }
    std::printf("\n");
  }
  std::printf("| total | | | |");
  for (double t : total) std::printf(" %.0f |", t);
  std::printf("\n");
}
