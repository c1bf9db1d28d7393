#include "crank/kernels/linear.h"

#include <algorithm>
#include <cstring>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/parallel_for.h"

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
                   int64_t in, int64_t out, float* y, const uint16_t* w_bf16) {
  CRANK_CHECK(batch >= 0 && in >= 0 && out >= 0, "LinearForward sizes B={} I={} O={}", batch, in,
              out);
  GemmBiasActivation(batch, out, in, x, in, w, out, b, act, y, out, w_bf16);
}

namespace {

// dL/d(pre-activation) of one element from the activation's output y and its gradient dy.
template <Activation kAct>
inline float PreActivationGradient(float y, float dy) {
  if constexpr (kAct == Activation::kRelu) {
    return y > 0.0f ? dy : 0.0f;
  } else if constexpr (kAct == Activation::kSigmoid) {
    return dy * y * (1.0f - y);
  } else {
    return dy;
  }
}

// Columns [c0, c0 + width) of ActivationBackwardColumnSums, width <= kWidth, in one fused pass
// per row; kWidth known at compile time keeps the accumulators in vector registers. y may be
// null for kLinear. d_pre may be dy (each row is read before it is written).
template <Activation kAct, int kWidth>
void ColumnBlock(const float* __restrict y, const float* dy, int64_t batch, int64_t out, int64_t c0,
                 int64_t width, float* d_pre, float* __restrict db) {
  double acc[kWidth] = {};
  float g[kWidth];
  for (int64_t r = 0; r < batch; ++r) {
    const int64_t at = r * out + c0;
    const float* yr = kAct == Activation::kLinear ? dy + at : y + at;
    const float* gr = dy + at;
    if (width == kWidth) {
      for (int j = 0; j < kWidth; ++j) g[j] = PreActivationGradient<kAct>(yr[j], gr[j]);
      for (int j = 0; j < kWidth; ++j) acc[j] += g[j];
      if (d_pre != nullptr) std::memcpy(d_pre + at, g, sizeof(g));
    } else {
      for (int64_t j = 0; j < width; ++j) g[j] = PreActivationGradient<kAct>(yr[j], gr[j]);
      for (int64_t j = 0; j < width; ++j) acc[j] += g[j];
      if (d_pre != nullptr) std::memcpy(d_pre + at, g, sizeof(float) * static_cast<size_t>(width));
    }
  }
  if (db != nullptr) {
    for (int64_t j = 0; j < width; ++j) db[c0 + j] += static_cast<float>(acc[j]);
  }
}

// d_pre = act'(y) dy (when d_pre != nullptr) and db += column sums of it (when db != nullptr),
// in one pass, a block of kColumnBlock columns per task so each column is summed in row order
// in double precision on one thread: the result does not depend on the thread count.
void ActivationBackwardColumnSums(Activation act, const float* y, const float* dy, int64_t batch,
                                  int64_t out, float* d_pre, float* db) {
  const int64_t blocks = (out + kColumnBlock - 1) / kColumnBlock;
  ParallelFor(blocks, batch * out >= kMinParallelElements && blocks > 1, [&](int64_t blk) {
    const int64_t c0 = blk * kColumnBlock;
    const int64_t width = std::min(kColumnBlock, out - c0);
    switch (act) {
      case Activation::kRelu:
        ColumnBlock<Activation::kRelu, kColumnBlock>(y, dy, batch, out, c0, width, d_pre, db);
        break;
      case Activation::kSigmoid:
        ColumnBlock<Activation::kSigmoid, kColumnBlock>(y, dy, batch, out, c0, width, d_pre, db);
        break;
      case Activation::kLinear:
        ColumnBlock<Activation::kLinear, kColumnBlock>(y, dy, batch, out, c0, width, d_pre, db);
        break;
    }
  });
}

}  // namespace

void AccumulateColumnSums(const float* g, int64_t batch, int64_t out, float* db) {
  ActivationBackwardColumnSums(Activation::kLinear, nullptr, g, batch, out, nullptr, db);
}

void LinearBackward(const float* x, const float* w, const float* y, const float* dy, Activation act,
                    int64_t batch, int64_t in, int64_t out, float* d_pre, float* dw, float* db,
                    float* dx, const uint16_t* w_bf16) {
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
  if (dx != nullptr) {
    GemmWithBf16B(false, true, batch, in, out, 1.0f, g, out, w, out, w_bf16, 0.0f, dx, in);
  }
}

}  // namespace crank
