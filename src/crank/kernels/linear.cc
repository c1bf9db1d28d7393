#include "crank/kernels/linear.h"

#include <algorithm>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

// Element-wise passes below this many elements run on the calling thread only: waking the
// OpenMP workers (tens of microseconds when they sleep) costs more than such a pass
// (a 128 x 512 bias + ReLU takes about 10 microseconds on one core).
constexpr int64_t kMinParallelElements = 1 << 17;
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

namespace {

// d_pre = act'(y) dy (when d_pre != nullptr; else g = dy) and db += column sums of it, in one
// pass, a block of kColumnBlock columns per task so each column is summed in row order in double
// precision on one thread: the result does not depend on the thread count.
void ActivationBackwardColumnSums(Activation act, const float* y, const float* dy, int64_t batch,
                                  int64_t out, float* d_pre, float* db) {
  const int64_t blocks = (out + kColumnBlock - 1) / kColumnBlock;
#pragma omp parallel for schedule(static) if (batch * out >= kMinParallelElements && blocks > 1)
  for (int64_t blk = 0; blk < blocks; ++blk) {
    const int64_t c0 = blk * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, out - c0);
    double acc[kColumnBlock] = {};
    for (int64_t r = 0; r < batch; ++r) {
      const int64_t at = r * out + c0;
      const float* gr = dy + at;
      if (d_pre != nullptr) {
        ActivationBackward(act, y + at, dy + at, width, d_pre + at);
        gr = d_pre + at;
      }
      if (db != nullptr) {
        for (int64_t j = 0; j < width; ++j) acc[j] += gr[j];
      }
    }
    if (db != nullptr) {
      for (int64_t j = 0; j < width; ++j) db[c0 + j] += static_cast<float>(acc[j]);
    }
  }
}

}  // namespace

void AccumulateColumnSums(const float* g, int64_t batch, int64_t out, float* db) {
  ActivationBackwardColumnSums(Activation::kLinear, nullptr, g, batch, out, nullptr, db);
}

void LinearBackward(const float* x, const float* w, const float* y, const float* dy, Activation act,
                    int64_t batch, int64_t in, int64_t out, float* d_pre, float* dw, float* db,
                    float* dx) {
  CRANK_CHECK(batch >= 0 && in >= 0 && out >= 0, "LinearBackward sizes B={} I={} O={}", batch, in,
              out);
  const float* g = dy;
  if (act != Activation::kLinear) {
    CRANK_CHECK(d_pre != nullptr, "LinearBackward needs d_pre scratch for {}", ActivationName(act));
    ActivationBackwardColumnSums(act, y, dy, batch, out, d_pre, db);
    g = d_pre;
  } else if (db != nullptr) {
    AccumulateColumnSums(dy, batch, out, db);
  }
  if (dw != nullptr) Gemm(true, false, in, out, batch, 1.0f, x, in, g, out, 1.0f, dw, out);
  if (dx != nullptr) Gemm(false, true, batch, in, out, 1.0f, g, out, w, out, 0.0f, dx, in);
}

}  // namespace crank
