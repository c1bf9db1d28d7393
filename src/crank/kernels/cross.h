#ifndef CRANK_KERNELS_CROSS_H_
#define CRANK_KERNELS_CROSS_H_

// One DCN-v2 cross layer (tfrs.layers.dcn.Cross), forward and backward.
//
//   full rank:  z = x W + b                      W: (W, W)
//   low rank:   h = x U, z = h V + b             U: (W, P) (no bias), V: (P, W)
//   prod = act(z) (+ diag_scale * x when diag_scale != 0)
//   out  = x0 * prod + x                         (element-wise)
//
// x0, x, out: (B, W). `act` is the preactivation (linear, relu or sigmoid). The GEMMs go
// through Gemm (OpenBLAS); element-wise passes are OpenMP-parallel over rows and the bias
// gradient over column blocks, each output element reduced in a fixed order, so results are
// bit-identical across runs and thread counts (as Gemm). No allocation:
// the caller provides the caches and scratch.

#include <cstdint>

#include "crank/kernels/activation.h"

namespace crank {

// The parameters of one cross layer (not owned).
struct CrossWeights {
  int64_t width = 0;                // W
  int64_t projection_dim = 0;       // P; 0 = full rank
  const float* kernel = nullptr;    // (W, W), full rank only
  const float* kernel_u = nullptr;  // (W, P), low rank only
  const float* kernel_v = nullptr;  // (P, W), low rank only
  const float* bias = nullptr;      // (W), or nullptr for no bias
  float diag_scale = 0.0f;
  Activation preactivation = Activation::kLinear;
};

// Gradients of CrossWeights' parameters, ACCUMULATED into (same shapes; nullptr where the
// parameter does not exist).
struct CrossGrads {
  float* d_kernel = nullptr;
  float* d_kernel_u = nullptr;
  float* d_kernel_v = nullptr;
  float* d_bias = nullptr;
};

// x0, x: (B, W) -> out: (B, W), overwritten; row b of out starts at out + b * ld_out
// (ld_out >= W: out may be a band of a wider matrix, whose other columns are left alone). Also
// writes, for the backward:
//   hidden: (B, P) = x U (low rank only; may be nullptr for full rank),
//   act_out: (B, W) = act(z) (without the diag_scale term).
// out must not alias x0 or x.
void CrossForward(const CrossWeights& w, int64_t batch, const float* x0, const float* x,
                  float* hidden, float* act_out, float* out, int64_t ld_out);

// d_out: (B, W), row b at d_out + b * ld_d_out (ld_d_out >= W), with x0, x, hidden, act_out
// from the matching forward ->
// d_x0, d_x: (B, W), overwritten; parameter gradients accumulated into `grads`.
// Scratch: d_z: (B, W); d_hidden: (B, P) (low rank only; may be nullptr for full rank).
// d_x0, d_x, d_z must be distinct and not alias the inputs.
void CrossBackward(const CrossWeights& w, const CrossGrads& grads, int64_t batch, const float* x0,
                   const float* x, const float* hidden, const float* act_out, const float* d_out,
                   int64_t ld_d_out, float* d_z, float* d_hidden, float* d_x0, float* d_x);

}  // namespace crank

#endif  // CRANK_KERNELS_CROSS_H_
