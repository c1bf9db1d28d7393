// Gemm's determinism contract (gemm.h): no result depends on the thread count, for every fp32
// backend, for the shapes the layers use and for batches around the tile sizes.

#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/gemm_onednn.h"
#include "crank/kernels/kernel_test_util.h"

namespace crank {
namespace {

using testing::RandomVector;

std::vector<GemmBackend> Fp32Backends() {
  std::vector<GemmBackend> backends = {GemmBackend::kOpenBlas, GemmBackend::kAuto};
  if (OneDnnAvailable()) backends.push_back(GemmBackend::kOneDnn);
  return backends;
}

// (in, out) of the layers' products: MLP layers (13->512, 512->256, 256->64, 64->16, 367->512,
// 256->1), a full-rank cross layer (64->64) and a low-rank one (64->8->64).
constexpr int64_t kLayerShapes[][2] = {{13, 512}, {512, 256}, {256, 64}, {64, 16}, {367, 512},
                                       {256, 1},  {64, 64},   {64, 8},   {8, 64}};

// The row-wise products of one layer over the first `batch` rows of x (batch_max, in) and
// g (batch_max, out): y = x W (beta 0), dx = g W^T (beta 0) and dx += g W^T (beta 1, onto 0.5).
std::vector<std::vector<float>> RowProducts(int64_t in, int64_t out, int64_t batch,
                                            const std::vector<float>& x,
                                            const std::vector<float>& g,
                                            const std::vector<float>& w) {
  std::vector<float> y(batch * out), dx(batch * in), dx_acc(batch * in, 0.5f);
  Gemm(false, false, batch, out, in, 1.0f, x.data(), in, w.data(), out, 0.0f, y.data(), out);
  Gemm(false, true, batch, in, out, 1.0f, g.data(), out, w.data(), out, 0.0f, dx.data(), in);
  Gemm(false, true, batch, in, out, 1.0f, g.data(), out, w.data(), out, 1.0f, dx_acc.data(), in);
  return {y, dx, dx_acc};
}

TEST(GemmDeterminism, RowProductsDoNotDependOnThreadCount) {
  testing::RestoreComputeSettings restore;
  constexpr int64_t kMaxBatch = 2000;
  const int64_t batches[] = {1, 7, 63, 64, 65, 128, 513, 976, 1024, kMaxBatch};
  for (GemmBackend backend : Fp32Backends()) {
    SetGemmBackend(backend);
    for (const auto& s : kLayerShapes) {
      const int64_t in = s[0], out = s[1];
      const std::vector<float> x = RandomVector(kMaxBatch * in, 1 + in);
      const std::vector<float> g = RandomVector(kMaxBatch * out, 2 + out);
      const std::vector<float> w = RandomVector(in * out, 3 + in * out);
      for (int64_t batch : batches) {
        SetComputeThreads(1);
        const auto reference = RowProducts(in, out, batch, x, g, w);
        for (int threads : {2, 3}) {
          SetComputeThreads(threads);
          const auto got = RowProducts(in, out, batch, x, g, w);
          for (size_t p = 0; p < got.size(); ++p) {
            ASSERT_EQ(std::memcmp(got[p].data(), reference[p].data(), got[p].size() * 4), 0)
                << GemmBackendName(backend) << " " << in << "->" << out << " product " << p
                << " batch " << batch << " threads " << threads;
          }
        }
      }
    }
  }
}

TEST(GemmDeterminism, WeightGradientsDoNotDependOnThreadCount) {
  testing::RestoreComputeSettings restore;
  for (GemmBackend backend : Fp32Backends()) {
    SetGemmBackend(backend);
    for (const auto& s : kLayerShapes) {
      const int64_t in = s[0], out = s[1];
      for (int64_t batch : {1, 128, 1000}) {
        const std::vector<float> x = RandomVector(batch * in, 4 + in);
        const std::vector<float> g = RandomVector(batch * out, 5 + out);
        std::vector<std::vector<float>> dw;
        for (int threads : {1, 2, 3}) {
          SetComputeThreads(threads);
          dw.emplace_back(in * out, 0.25f);  // dW += x^T g
          Gemm(true, false, in, out, batch, 1.0f, x.data(), in, g.data(), out, 1.0f,
               dw.back().data(), out);
        }
        for (size_t t = 1; t < dw.size(); ++t) {
          ASSERT_EQ(std::memcmp(dw[t].data(), dw[0].data(), dw[0].size() * 4), 0)
              << GemmBackendName(backend) << " " << in << "->" << out << " batch " << batch
              << " threads " << t + 1 << " vs 1";
        }
      }
    }
  }
}

TEST(GemmDeterminism, ShortLastTileLeavesRowsOutsideCUntouched) {
  // A batch that is not a multiple of the row quantum, C with padding columns and rows beyond M:
  // only C's M x N elements change, and with beta 0 stale NaNs in C do not leak into the result.
  testing::RestoreComputeSettings restore;
  for (GemmBackend backend : Fp32Backends()) {
    SetGemmBackend(backend);
    const int64_t m = 70, n = 9, k = 5, ldc = 12;
    const std::vector<float> a = RandomVector(m * k, 7), b = RandomVector(k * n, 8);
    std::vector<float> c((m + 2) * ldc, std::numeric_limits<float>::quiet_NaN());
    Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), ldc);
    for (int64_t i = 0; i < m + 2; ++i) {
      for (int64_t j = 0; j < ldc; ++j) {
        const bool inside = i < m && j < n;
        EXPECT_EQ(std::isnan(c[i * ldc + j]), !inside)
            << GemmBackendName(backend) << " at (" << i << ", " << j << ")";
      }
    }
  }
}

}  // namespace
}  // namespace crank
