#include "crank/kernels/cross.h"

#include <algorithm>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Element-wise passes below this many elements run on the calling thread only.
constexpr int64_t kMinParallelElements = 1 << 14;
// Columns per block of the bias-gradient reduction.
constexpr int64_t kBiasBlock = 64;

void CheckWeights(const CrossWeights& w) {
  CRANK_CHECK(w.width > 0 && w.projection_dim >= 0);
  if (w.projection_dim == 0) {
    CRANK_CHECK(w.kernel != nullptr);
  } else {
    CRANK_CHECK(w.kernel_u != nullptr && w.kernel_v != nullptr);
  }
}

}  // namespace

void CrossForward(const CrossWeights& w, int64_t batch, const float* x0, const float* x,
                  float* hidden, float* act_out, float* out, int64_t ld_out) {
  CheckWeights(w);
  CRANK_CHECK(batch >= 0 && ld_out >= w.width);
  if (batch == 0) return;
  const int64_t n = w.width;
  const int64_t p = w.projection_dim;
  // z = x W, or (x U) V, into act_out.
  if (p == 0) {
    Gemm(false, false, batch, n, n, 1.0f, x, n, w.kernel, n, 0.0f, act_out, n);
  } else {
    CRANK_CHECK(hidden != nullptr);
    Gemm(false, false, batch, p, n, 1.0f, x, n, w.kernel_u, p, 0.0f, hidden, p);
    Gemm(false, false, batch, n, p, 1.0f, hidden, p, w.kernel_v, n, 0.0f, act_out, n);
  }
  const float diag = w.diag_scale;
  ParallelFor(batch, batch * n >= kMinParallelElements, [&](int64_t b) {
    float* a = act_out + b * n;
    if (w.bias != nullptr) {
      BiasActivationForward(w.preactivation, w.bias, a, n);
    } else {
      ActivationForward(w.preactivation, a, n);
    }
    const float* x0b = x0 + b * n;
    const float* xb = x + b * n;
    float* ob = out + b * ld_out;
    if (diag != 0.0f) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) ob[j] = x0b[j] * (a[j] + diag * xb[j]) + xb[j];
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) ob[j] = x0b[j] * a[j] + xb[j];
    }
  });
}

void CrossBackward(const CrossWeights& w, const CrossGrads& grads, int64_t batch, const float* x0,
                   const float* x, const float* hidden, const float* act_out, const float* d_out,
                   int64_t ld_d_out, float* d_z, float* d_hidden, float* d_x0, float* d_x) {
  CheckWeights(w);
  CRANK_CHECK(batch >= 0 && ld_d_out >= w.width);
  if (batch == 0) return;
  const int64_t n = w.width;
  const int64_t p = w.projection_dim;
  const float diag = w.diag_scale;
  // With q = act(z) + diag * x:  d_x0 = d_out * q,  d_q = d_out * x0,
  // d_x = d_out + diag * d_q + (the GEMM terms below),  d_z = d_q * act'(z).
  ParallelFor(batch, batch * n >= kMinParallelElements, [&](int64_t b) {
    const int64_t o = b * n;
    const float* g = d_out + b * ld_d_out;
    const float* x0b = x0 + o;
    const float* xb = x + o;
    const float* a = act_out + o;
    float* dx0 = d_x0 + o;
    float* dx = d_x + o;
    float* dz = d_z + o;
    if (diag != 0.0f) {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        const float dq = g[j] * x0b[j];
        dx0[j] = g[j] * (a[j] + diag * xb[j]);
        dx[j] = g[j] + diag * dq;
        dz[j] = dq;
      }
    } else {
#pragma omp simd
      for (int64_t j = 0; j < n; ++j) {
        dz[j] = g[j] * x0b[j];
        dx0[j] = g[j] * a[j];
        dx[j] = g[j];
      }
    }
    ActivationBackward(w.preactivation, a, dz, n, dz);
  });

  if (w.bias != nullptr && grads.d_bias != nullptr) {
    // d_bias[j] += sum_b d_z[b][j], each column summed over b in order.
    const int64_t blocks = (n + kBiasBlock - 1) / kBiasBlock;
    ParallelFor(blocks, batch * n >= kMinParallelElements, [&](int64_t blk) {
      const int64_t lo = blk * kBiasBlock;
      const int64_t hi = std::min(n, lo + kBiasBlock);
      float* db = grads.d_bias;
      for (int64_t b = 0; b < batch; ++b) {
        const float* dz = d_z + b * n;
#pragma omp simd
        for (int64_t j = lo; j < hi; ++j) db[j] += dz[j];
      }
    });
  }

  if (p == 0) {
    // d_W += x^T d_z;  d_x += d_z W^T.
    CRANK_CHECK(grads.d_kernel != nullptr);
    Gemm(true, false, n, n, batch, 1.0f, x, n, d_z, n, 1.0f, grads.d_kernel, n);
    Gemm(false, true, batch, n, n, 1.0f, d_z, n, w.kernel, n, 1.0f, d_x, n);
  } else {
    // d_V += h^T d_z;  d_h = d_z V^T;  d_U += x^T d_h;  d_x += d_h U^T.
    CRANK_CHECK(grads.d_kernel_u != nullptr && grads.d_kernel_v != nullptr);
    CRANK_CHECK(hidden != nullptr && d_hidden != nullptr);
    Gemm(true, false, p, n, batch, 1.0f, hidden, p, d_z, n, 1.0f, grads.d_kernel_v, n);
    Gemm(false, true, batch, p, n, 1.0f, d_z, n, w.kernel_v, n, 0.0f, d_hidden, p);
    Gemm(true, false, n, p, batch, 1.0f, x, n, d_hidden, p, 1.0f, grads.d_kernel_u, p);
    Gemm(false, true, batch, n, p, 1.0f, d_hidden, p, w.kernel_u, p, 1.0f, d_x, n);
  }
}

}  // namespace crank
