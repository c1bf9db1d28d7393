#include "crank/kernels/gemm.h"

#include <cblas.h>
#include <fmt/format.h>
#include <omp.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "crank/base/error.h"
#include "crank/kernels/bf16.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/gemm_onednn.h"
#include "crank/kernels/gemm_small.h"
#include "crank/kernels/gemm_testing.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

std::atomic<GemmPrecision> g_precision{GemmPrecision::kFp32};
std::atomic<GemmBackend> g_backend{GemmBackend::kAuto};
std::atomic<bool> g_simulate_no_bf16{false};

// Which library and precision run a GEMM of shape (M, N, K); measurements behind both rules are
// in docs/performance.md, "GEMM backend and bf16".
//
// fp32 under kAuto, measured tile by tile (single-threaded calls, see TiledGemm) on this
// project's layer shapes at batch 128 and 2048 (docs/performance.md, "GEMM backend and bf16"):
// - oneDNN's brgemm matmul by default: it is faster than OpenBLAS on most shapes, including the
//   1-unit output layer once it runs as single-threaded tiles;
// - OpenBLAS for tiles of fewer than 8 rows (batches of a few rows: oneDNN 5-7x slower there);
// - OpenBLAS for weight-gradient products X^T G (trans_a) whose output is taller than wide
//   (M > N >= 8): 25-35% faster than oneDNN at 512 x 256 x K=2048;
// - OpenBLAS for plain products whose B exceeds 2^17 floats (512 KiB, this machine's L2 per
//   core) and have at least 512 rows, such as a top MLP's first layer at batch 2048: 18-25%
//   faster.
constexpr int64_t kMinOneDnnRows = 8;
constexpr int64_t kMaxOneDnnPlainB = int64_t{1} << 17;
constexpr int64_t kMinPlainOpenBlasRows = 512;  // at batch 128 oneDNN stayed as fast or faster
constexpr std::string_view kOneDnnRule =
    "M >= 8, except X^T G with M > N >= 8 and A B with M >= 512, K N > 2^17";
bool OneDnnSuits(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  if (m < kMinOneDnnRows) return false;
  if (trans_a) return !(m > n && n >= kMinOneDnnRows);
  if (!trans_b && m >= kMinPlainOpenBlasRows) return k * n <= kMaxOneDnnPlainB;
  return true;
}

// bf16: products with a side thinner than 16 stay fp32. They carry a negligible share of the
// FLOPs and the precision-sensitive ends of a model: the first layer multiplies the raw dense
// features (K = 13 for Criteo) and the last one is a 1-unit output (N = 1). Rounding the first
// layer's inputs too cost eval AUC at batch 2048; this rule kept it within 0.0015 of fp32.
constexpr int64_t kMinBf16Side = 16;
constexpr std::string_view kBf16Rule = "min(M, N, K) >= 16";
bool Bf16Suits(int64_t m, int64_t n, int64_t k) { return std::min({m, n, k}) >= kMinBf16Side; }

// fp32 under kAuto, one-row plain products (a dense layer's forward pass at batch 1) run on
// crank's own kernel (gemm_small.h) where the build targets AVX-512: it streams the weights once
// with no per-call packing or dispatch (docs/performance.md, "Small batches").
constexpr int64_t kMaxSmallRows = 1;
bool UseSmallRowsKernel(bool trans_a, bool trans_b, int64_t m) {
  static const bool kVectorized = SmallRowsGemmVectorized();
  return kVectorized && g_backend.load(std::memory_order_relaxed) == GemmBackend::kAuto &&
         !trans_a && !trans_b && m <= kMaxSmallRows;
}

bool UseOneDnnFp32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k) {
  switch (g_backend.load(std::memory_order_relaxed)) {
    case GemmBackend::kOpenBlas:
      return false;
    case GemmBackend::kOneDnn:
      return true;
    case GemmBackend::kAuto:
      break;
  }
  return OneDnnAvailable() && OneDnnSuits(trans_a, trans_b, m, n, k);
}

// The calling thread's override (compute_settings.h), else the process default.
GemmPrecision RequestedPrecision() {
  return ThreadGemmPrecision().value_or(g_precision.load(std::memory_order_relaxed));
}

// Grow-only: resized only upwards, so steady-state calls allocate nothing.
template <typename T>
T* Scratch(std::vector<T>& buffer, int64_t size) {
  if (static_cast<int64_t>(buffer.size()) < size) buffer.resize(static_cast<size_t>(size));
  return buffer.data();
}

// One library call on one tile of C, single-threaded (see TiledGemm). T is float, or uint16_t
// for bf16 bit patterns.
template <typename T>
using TileKernel = void (*)(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
                            float alpha, const T* a, int64_t lda, const T* b, int64_t ldb,
                            float beta, float* c, int64_t ldc);

void OpenBlasTile(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                  const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                  int64_t ldc) {
  cblas_sgemm(CblasRowMajor, trans_a ? CblasTrans : CblasNoTrans,
              trans_b ? CblasTrans : CblasNoTrans, static_cast<blasint>(m), static_cast<blasint>(n),
              static_cast<blasint>(k), alpha, a, static_cast<blasint>(lda), b,
              static_cast<blasint>(ldb), beta, c, static_cast<blasint>(ldc));
}

// Tiling (the determinism contract in gemm.h). Neither library keeps results independent of
// the thread count: both split M, N (OpenBLAS) or K (oneDNN) between threads by the thread
// count. So Gemm cuts C itself, by a rule that sees the shape but not the thread count, and runs
// each tile as a single-threaded library call; the threads share out whole tiles. A tile is a
// band of whole rows (all N columns; see TilesByColumns for the exception): at most kMaxTiles
// bands of a multiple of kRowQuantum rows and at least kMinBandRows rows (one band below that).
// Few, tall bands keep the per-call cost (packing B) low; several of them keep two threads busy
// at batch 128 and up (four bands measured faster than eight at batch 128 and the same at 2048:
// docs/performance.md). The 16-row quantum keeps the four bands near-equal where the side is
// not a multiple of 256 (432 rows: 112 x 3 + 96, where 64-row multiples gave 128 x 3 + 48 and
// one thread 45% more work than the other); the 64-row floor keeps batch 128 in two bands.
constexpr int64_t kRowQuantum = 16;
constexpr int64_t kMinBandRows = 64;
constexpr int64_t kMaxTiles = 4;

int64_t RowsPerTile(int64_t m) {
  const int64_t even = (m + kMaxTiles - 1) / kMaxTiles;
  return std::max(kMinBandRows, (even + kRowQuantum - 1) / kRowQuantum * kRowQuantum);
}

// Weight-gradient products X^T G (trans_a) wider than tall are cut into bands of columns
// instead, by the same rule applied to N: their M is a layer's input width, often too small
// for several row bands (13 for Criteo's dense features: one band, one thread), and column
// bands measured 10-30% faster there (13 x 512 and 448 x 512 at K = 2048, 367 x 512 at 128).
bool TilesByColumns(bool trans_a, int64_t m, int64_t n) { return trans_a && n > m; }

// Keeps the libraries this thread calls on one thread of their own.
class SingleThreadedLibraries {
 public:
  SingleThreadedLibraries() : saved_(omp_get_max_threads()) { omp_set_num_threads(1); }
  ~SingleThreadedLibraries() { omp_set_num_threads(saved_); }
  SingleThreadedLibraries(const SingleThreadedLibraries&) = delete;
  SingleThreadedLibraries& operator=(const SingleThreadedLibraries&) = delete;

 private:
  int saved_;
};

// kernel: a TileKernel<T>, or any callable with its signature.
template <typename T, typename Kernel>
void TiledGemm(Kernel&& kernel, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k,
               float alpha, const T* a, int64_t lda, const T* b, int64_t ldb, float beta, float* c,
               int64_t ldc) {
  const bool by_columns = TilesByColumns(trans_a, m, n);
  const int64_t extent = by_columns ? n : m;
  const int64_t band = RowsPerTile(extent);
  const int64_t tiles = (extent + band - 1) / band;
  auto tile = [&](int64_t t) {
    const int64_t start = t * band;
    const int64_t size = std::min(band, extent - start);
    if (by_columns) {
      const T* b_tile = trans_b ? b + start * ldb : b + start;
      kernel(trans_a, trans_b, m, size, k, alpha, a, lda, b_tile, ldb, beta, c + start, ldc);
    } else {
      const T* a_tile = trans_a ? a + start : a + start * lda;
      kernel(trans_a, trans_b, size, n, k, alpha, a_tile, lda, b, ldb, beta, c + start * ldc, ldc);
    }
  };
  const int threads =
      omp_in_parallel() ? 1 : static_cast<int>(std::min<int64_t>(ComputeThreads(), tiles));
  if (threads == 1) {
    // No parallel region at all: even a one-thread region costs a futex system call when it
    // ends (kernels/parallel_for.h), which is a visible share of a batch-1 forward pass.
    SingleThreadedLibraries one_thread;
    for (int64_t t = 0; t < tiles; ++t) tile(t);
    return;
  }
#pragma omp parallel num_threads(threads)
  {
    SingleThreadedLibraries one_thread;
    // Tiles go to whichever thread is free (dynamic): a thread held up by the scheduler (another
    // process, a reader thread on the same cores) leaves its tiles to the others instead of
    // holding up the region. A tile's bits do not depend on the thread that computes it.
    // nowait: the region's own closing barrier is the only wait needed (without it GCC adds an
    // explicit barrier after the loop, a second one per product).
#pragma omp for schedule(dynamic, 1) nowait
    for (int64_t t = 0; t < tiles; ++t) tile(t);
  }
}

// A tile's finishing pass over its own rows x cols of C (row stride ldc), run on the tile's thread
// right after its product; NoEpilogue for a plain product.
struct NoEpilogue {
  void operator()(int64_t /*rows*/, int64_t /*cols*/, float* /*c*/, int64_t /*ldc*/) const {}
};

// The calling thread's grow-only scratch for a band of A rounded to bf16.
uint16_t* BandScratch(int64_t size) {
  thread_local std::vector<uint16_t> band;
  return Scratch(band, size);
}

// op(A) op(B) with bf16-rounded inputs on oneDNN, then `epilogue` on each tile of C. B is rounded
// once for the call, in its stored layout (dense, row stride b_cols), unless the caller has a
// rounded copy (b_rounded). A: a plain A's row band is all that a band of C reads, so each tile
// rounds its own rows into its thread's scratch right before its product, in the tiles' parallel
// region (one region for the rounding, the product and the epilogue, with the band still in
// cache); a transposed A (X^T G, whose tiles may be column bands) is rounded whole first. The
// bf16 values, the products' shapes and strides (row stride a_cols) and hence the results are
// the same either way.
template <typename Epilogue>
void GemmBf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
              const float* a, int64_t lda, const float* b, int64_t ldb, const uint16_t* b_rounded,
              float beta, float* c, int64_t ldc, const Epilogue& epilogue) {
  thread_local std::vector<uint16_t> a16, b16;
  const int64_t a_rows = trans_a ? k : m, a_cols = trans_a ? m : k;
  const int64_t b_rows = trans_b ? n : k, b_cols = trans_b ? k : n;
  const uint16_t* b_bf16 = b_rounded;
  if (b_bf16 == nullptr) {
    uint16_t* rounded = Scratch(b16, b_rows * b_cols);
    RoundToBf16(b, b_rows, b_cols, ldb, rounded);
    b_bf16 = rounded;
  }
  if (!trans_a) {
    // Row bands of C (TiledGemm cuts a product with a plain A by rows only): each tile gets its
    // rows of A and all of B, so the tile kernel reads the captured bf16 B, not its b argument.
    TiledGemm<float>(
        [&](bool, bool tb, int64_t rows, int64_t cols, int64_t depth, float tile_alpha,
            const float* a_tile, int64_t a_ld, const float*, int64_t, float tile_beta,
            float* c_tile, int64_t c_ld) {
          uint16_t* band = BandScratch(rows * depth);
          RoundToBf16(a_tile, rows, depth, a_ld, band);
          OneDnnGemmBf16(false, tb, rows, cols, depth, tile_alpha, band, depth, b_bf16, b_cols,
                         tile_beta, c_tile, c_ld);
          epilogue(rows, cols, c_tile, c_ld);
        },
        false, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  uint16_t* a_bf16 = Scratch(a16, a_rows * a_cols);
  RoundToBf16(a, a_rows, a_cols, lda, a_bf16);
  TiledGemm<uint16_t>(
      [&](bool ta, bool tb, int64_t rows, int64_t cols, int64_t depth, float tile_alpha,
          const uint16_t* a_tile, int64_t a_ld, const uint16_t* b_tile, int64_t b_ld,
          float tile_beta, float* c_tile, int64_t c_ld) {
        OneDnnGemmBf16(ta, tb, rows, cols, depth, tile_alpha, a_tile, a_ld, b_tile, b_ld, tile_beta,
                       c_tile, c_ld);
        epilogue(rows, cols, c_tile, c_ld);
      },
      trans_a, trans_b, m, n, k, alpha, a_bf16, a_cols, b_bf16, b_cols, beta, c, ldc);
}

// C(M, N) = beta * C with BLAS semantics (beta == 0 writes zeros, even over NaN).
void ScaleMatrix(int64_t m, int64_t n, float beta, float* c, int64_t ldc) {
  for (int64_t i = 0; i < m; ++i) {
    float* row = c + i * ldc;
    if (beta == 0.0f) {
      std::fill(row, row + n, 0.0f);
    } else if (beta != 1.0f) {
      for (int64_t j = 0; j < n; ++j) row[j] *= beta;
    }
  }
}

// Gemm's argument contract (gemm.h) for a product with m, n, k >= 1.
void CheckGemmStrides(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, int64_t lda,
                      int64_t ldb, int64_t ldc) {
  CRANK_CHECK(ldc >= n && ldc <= INT_MAX, "Gemm ldc={} for n={}", ldc, n);
  const int64_t a_cols = trans_a ? m : k;
  const int64_t b_cols = trans_b ? k : n;
  CRANK_CHECK(lda >= a_cols && lda <= INT_MAX, "Gemm lda={} for a row of {}", lda, a_cols);
  CRANK_CHECK(ldb >= b_cols && ldb <= INT_MAX, "Gemm ldb={} for a row of {}", ldb, b_cols);
}

// Rows of a separate bias + activation pass below this many elements run on the calling thread:
// waking the OpenMP workers costs more than such a pass (a 128 x 512 bias + ReLU takes about 10
// microseconds on one core).
constexpr int64_t kMinParallelEpilogue = int64_t{1} << 17;

// rows x n of C (row stride ldc) = act(C + bias), in place; bias may be null.
void BiasActivationRows(const float* bias, Activation act, int64_t rows, int64_t n, float* c,
                        int64_t ldc) {
  for (int64_t r = 0; r < rows; ++r) {
    if (bias != nullptr) {
      BiasActivationForward(act, bias, c + r * ldc, n);
    } else {
      ActivationForward(act, c + r * ldc, n);
    }
  }
}

}  // namespace

void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc) {
  GemmWithBf16B(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, nullptr, beta, c, ldc);
}

void GemmWithBf16B(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, const uint16_t* b_bf16,
                   float beta, float* c, int64_t ldc) {
  CRANK_CHECK(m >= 0 && n >= 0 && k >= 0, "Gemm sizes m={} n={} k={}", m, n, k);
  CRANK_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX, "Gemm sizes m={} n={} k={}", m, n, k);
  if (m == 0 || n == 0) return;
  if (k == 0) {
    CRANK_CHECK(ldc >= n && ldc <= INT_MAX, "Gemm ldc={} for n={}", ldc, n);
    ScaleMatrix(m, n, beta, c, ldc);
    return;
  }
  CheckGemmStrides(trans_a, trans_b, m, n, k, lda, ldb, ldc);
  if (GemmRunsInBf16(m, n, k)) {
    GemmBf16(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, b_bf16, beta, c, ldc, NoEpilogue());
    return;
  }
  if (UseSmallRowsKernel(trans_a, trans_b, m)) {
    SmallRowsGemm(trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
    return;
  }
  TiledGemm<float>(UseOneDnnFp32(trans_a, trans_b, m, n, k) ? OneDnnGemmFp32 : OpenBlasTile,
                   trans_a, trans_b, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc);
}

void GemmBiasActivation(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, int64_t ldb, const float* bias, Activation act, float* c,
                        int64_t ldc, const uint16_t* b_bf16) {
  const bool epilogue = bias != nullptr || act != Activation::kLinear;
  if (epilogue && m > 0 && n > 0 && k > 0 && GemmRunsInBf16(m, n, k)) {
    CRANK_CHECK(m <= INT_MAX && n <= INT_MAX && k <= INT_MAX,
                "GemmBiasActivation sizes m={} n={} k={}", m, n, k);
    CheckGemmStrides(false, false, m, n, k, lda, ldb, ldc);
    GemmBf16(false, false, m, n, k, 1.0f, a, lda, b, ldb, b_bf16, 0.0f, c, ldc,
             [&](int64_t rows, int64_t cols, float* c_tile, int64_t c_ld) {
               BiasActivationRows(bias, act, rows, cols, c_tile, c_ld);
             });
    return;
  }
  if (!epilogue || m == 0 || n == 0 || k == 0 || UseSmallRowsKernel(false, false, m)) {
    GemmWithBf16B(false, false, m, n, k, 1.0f, a, lda, b, ldb, b_bf16, 0.0f, c, ldc);
    if (!epilogue || m == 0 || n == 0) return;
    ParallelFor(m, m * n >= kMinParallelEpilogue,
                [&](int64_t r) { BiasActivationRows(bias, act, 1, n, c + r * ldc, ldc); });
    return;
  }
  CRANK_CHECK(m > 0 && n > 0 && k > 0 && m <= INT_MAX && n <= INT_MAX && k <= INT_MAX,
              "GemmBiasActivation sizes m={} n={} k={}", m, n, k);
  CheckGemmStrides(false, false, m, n, k, lda, ldb, ldc);
  // Row bands of C (TiledGemm never cuts a plain product by columns), each finished in place.
  if (UseOneDnnFp32(false, false, m, n, k)) {
    TiledGemm<float>(
        [&](bool, bool, int64_t rows, int64_t cols, int64_t depth, float, const float* a_tile,
            int64_t a_ld, const float* b_tile, int64_t b_ld, float, float* c_tile, int64_t c_ld) {
          if (bias != nullptr) {
            OneDnnGemmFp32Bias(rows, cols, depth, a_tile, a_ld, b_tile, b_ld, bias, c_tile, c_ld);
          } else {
            OneDnnGemmFp32(false, false, rows, cols, depth, 1.0f, a_tile, a_ld, b_tile, b_ld, 0.0f,
                           c_tile, c_ld);
          }
          BiasActivationRows(nullptr, act, rows, cols, c_tile, c_ld);
        },
        false, false, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
    return;
  }
  TiledGemm<float>(
      [&](bool, bool, int64_t rows, int64_t cols, int64_t depth, float, const float* a_tile,
          int64_t a_ld, const float* b_tile, int64_t b_ld, float, float* c_tile, int64_t c_ld) {
        OpenBlasTile(false, false, rows, cols, depth, 1.0f, a_tile, a_ld, b_tile, b_ld, 0.0f,
                     c_tile, c_ld);
        BiasActivationRows(bias, act, rows, cols, c_tile, c_ld);
      },
      false, false, m, n, k, 1.0f, a, lda, b, ldb, 0.0f, c, ldc);
}

void SetComputeThreads(int n) {
  CRANK_REQUIRE(n >= 1, "compute threads must be >= 1, got {}", n);
  omp_set_num_threads(n);
  openblas_set_num_threads(n);
}

int ComputeThreads() { return omp_get_max_threads(); }

void SetGemmPrecision(GemmPrecision precision) { g_precision.store(precision); }

GemmPrecision GetGemmPrecision() { return g_precision.load(std::memory_order_relaxed); }

GemmPrecision ActiveGemmPrecision() {
  return RequestedPrecision() == GemmPrecision::kBf16 && Bf16Supported() ? GemmPrecision::kBf16
                                                                         : GemmPrecision::kFp32;
}

bool GemmRunsInBf16(int64_t m, int64_t n, int64_t k) {
  return ActiveGemmPrecision() == GemmPrecision::kBf16 && Bf16Suits(m, n, k);
}

bool Bf16Supported() {
  static const bool kNative = CpuHasAvx512Bf16() && OneDnnHasNativeBf16();
  return kNative && !g_simulate_no_bf16.load(std::memory_order_relaxed);
}

GemmPrecision ParseGemmPrecision(std::string_view name) {
  if (name == "fp32") return GemmPrecision::kFp32;
  if (name == "bf16") return GemmPrecision::kBf16;
  throw InvalidArgument(fmt::format("GEMM precision: expected fp32 or bf16, got '{}'", name));
}

std::string_view GemmPrecisionName(GemmPrecision precision) {
  return precision == GemmPrecision::kBf16 ? "bf16" : "fp32";
}

void SetGemmBackend(GemmBackend backend) {
  CRANK_REQUIRE(backend != GemmBackend::kOneDnn || OneDnnAvailable(),
                "GEMM backend onednn: this build has no oneDNN (CMake CRANK_WITH_ONEDNN, package "
                "libdnnl-dev); use auto or openblas");
  g_backend.store(backend);
}

GemmBackend GetGemmBackend() { return g_backend.load(std::memory_order_relaxed); }

GemmBackend ParseGemmBackend(std::string_view name) {
  if (name == "auto") return GemmBackend::kAuto;
  if (name == "openblas") return GemmBackend::kOpenBlas;
  if (name == "onednn") return GemmBackend::kOneDnn;
  throw InvalidArgument(
      fmt::format("GEMM backend: expected auto, openblas or onednn, got '{}'", name));
}

std::string_view GemmBackendName(GemmBackend backend) {
  switch (backend) {
    case GemmBackend::kOpenBlas:
      return "openblas";
    case GemmBackend::kOneDnn:
      return "onednn";
    case GemmBackend::kAuto:
      break;
  }
  return "auto";
}

void SimulateNoBf16ForTesting(bool simulate) { g_simulate_no_bf16.store(simulate); }

std::string GemmBackendDescription() {
  // openblas_get_config(): "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64".
  std::string_view config = openblas_get_config();
  size_t end = config.find(' ');
  if (end != std::string_view::npos) end = config.find(' ', end + 1);
  const std::string_view version = config.substr(0, end);
  std::string_view parallel = "unknown threading";
  switch (openblas_get_parallel()) {
    case 0:
      parallel = "sequential";
      break;
    case 1:
      parallel = "pthreads";
      break;
    case 2:
      parallel = "OpenMP";
      break;
  }
  const std::string openblas =
      fmt::format("{} (core {}, {})", version, openblas_get_corename(), parallel);
  std::string fp32_libraries = openblas;
  if (GetGemmBackend() == GemmBackend::kOneDnn) {
    fp32_libraries = OneDnnDescription();
  } else if (GetGemmBackend() == GemmBackend::kAuto && OneDnnAvailable()) {
    fp32_libraries =
        fmt::format("{} where {}, else {}", OneDnnDescription(), kOneDnnRule, openblas);
  }
  const int threads = ComputeThreads();
  const std::string thread_count = fmt::format("{} thread{}", threads, threads == 1 ? "" : "s");
  if (ActiveGemmPrecision() == GemmPrecision::kBf16) {
    return fmt::format("bf16 on {} where {}, else fp32 on {}, {}", OneDnnDescription(), kBf16Rule,
                       fp32_libraries, thread_count);
  }
  std::string fallback;
  if (RequestedPrecision() == GemmPrecision::kBf16) {
    fallback = OneDnnAvailable() ? " (bf16 requested: not supported on this CPU, running fp32)"
                                 : " (bf16 requested: this build has no oneDNN, running fp32)";
  }
  return fmt::format("fp32 on {}, {}{}", fp32_libraries, thread_count, fallback);
}

}  // namespace crank
