#include "crank/kernels/linear.h"

#include <algorithm>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

// Element-wise passes below this many elements run on the calling thread only.
constexpr int64_t kMinParallelElements = 1 << 15;
// Columns per block of AccumulateColumnSums (a stack accumulator of this many doubles).
constexpr int64_t kColumnBlock = 64;

}  // namespace

void LinearForward(const float* x, const float* w, const float* b, Activation act, int64_t batch,
                   int64_t in, int64_t out, float* y) {
  CRANK_CHECK(batch >= 0 && in >= 0 && out >= 0, "LinearForward sizes B={} I={} O={}", batch, in,
              out);
  Gemm(false, false, batch, out, in, 1.0f, x, in, w, out, 0.0f, y, out);
  if (b == nullptr && act == Activation::kLinear) return;
#pragma omp parallel for schedule(static) if (batch * out >= kMinParallelElements)
  for (int64_t r = 0; r < batch; ++r) {
    float* yr = y + r * out;
    if (b != nullptr) {
      BiasActivationForward(act, b, yr, out);
    } else {
      ActivationForward(act, yr, out);
    }
  }
}

void AccumulateColumnSums(const float* g, int64_t batch, int64_t out, float* db) {
  const int64_t blocks = (out + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (batch * out >= kMinParallelElements && blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, out - c0);
    double acc[kColumnBlock] = {};
    for (int64_t r = 0; r < batch; ++r) {
      const float* gr = g + r * out + c0;
      for (int64_t j = 0; j < width; ++j) acc[j] += gr[j];
    }
    for (int64_t j = 0; j < width; ++j) db[c0 + j] += static_cast<float>(acc[j]);
  }
}

void LinearBackward(const float* x, const float* w, const float* y, const float* dy, Activation act,
                    int64_t batch, int64_t in, int64_t out, float* d_pre, float* dw, float* db,
                    float* dx) {
  CRANK_CHECK(batch >= 0 && in >= 0 && out >= 0, "LinearBackward sizes B={} I={} O={}", batch, in,
              out);
  const float* g = dy;
  if (act != Activation::kLinear) {
    CRANK_CHECK(d_pre != nullptr, "LinearBackward needs d_pre scratch for {}", ActivationName(act));
#pragma omp parallel for schedule(static) if (batch * out >= kMinParallelElements)
    for (int64_t r = 0; r < batch; ++r) {
      ActivationBackward(act, y + r * out, dy + r * out, out, d_pre + r * out);
    }
    g = d_pre;
  }
  if (db != nullptr) AccumulateColumnSums(g, batch, out, db);
  if (dw != nullptr) Gemm(true, false, in, out, batch, 1.0f, x, in, g, out, 1.0f, dw, out);
  if (dx != nullptr) Gemm(false, true, batch, in, out, 1.0f, g, out, w, out, 0.0f, dx, in);
}

}  // namespace crank
