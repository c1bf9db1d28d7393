#ifndef CRANK_KERNELS_LINEAR_H_
#define CRANK_KERNELS_LINEAR_H_

// A dense (fully connected) layer in the Keras Dense layout: y = act(x @ W + b).
//
// Shapes: B batch, I input width, O output width. W is (I, O) row-major, exactly a Keras Dense
// kernel, so weights move between the two without transposing.
// No allocation; OpenMP (static schedule) over rows or column blocks, so for a fixed thread
// count the results are bit-identical, and the bias gradient does not depend on it at all.

#include <cstdint>

#include "crank/kernels/activation.h"

namespace crank {

// x: (B, I), w: (I, O), b: (O) or nullptr -> y: (B, O) = act(x w + b) (overwritten).
// The bias add and the activation are fused into the GEMM (GemmBiasActivation, gemm.h).
// w_bf16: nullptr, or w rounded to bf16 (RoundToBf16 of the (I, O) matrix, kernels/bf16.h),
// used where the GEMM runs in bf16 instead of rounding w again (GemmWithBf16B: same bits).
void LinearForward(const float* x, const float* w, const float* b, Activation act, int64_t batch,
                   int64_t in, int64_t out, float* y, const uint16_t* w_bf16 = nullptr);

// Gradients of LinearForward given the upstream gradient dy: (B, O).
//   x: (B, I) and y: (B, O) are the forward's input and (post-activation) output; w: (I, O).
//   d_pre: (B, O) scratch, overwritten with dL/d(pre-activation); unused (may be null) when
//     act == kLinear, where dy itself is the pre-activation gradient. d_pre may be dy itself
//     (computed in place, each element from its own upstream value: the same bits).
//   dw: (I, O) += x^T d_pre;  db: (O) += column sums of d_pre (nullptr: no bias);
//   dx: (B, I) = d_pre w^T, overwritten (nullptr: not needed).
// dw, db and dx must not alias any input. w_bf16: as in LinearForward (used by the dx product).
void LinearBackward(const float* x, const float* w, const float* y, const float* dy, Activation act,
                    int64_t batch, int64_t in, int64_t out, float* d_pre, float* dw, float* db,
                    float* dx, const uint16_t* w_bf16 = nullptr);

// db: (O) += sum over rows of g: (B, O). Each column is summed in row order in double precision,
// so the result is independent of the thread count.
void AccumulateColumnSums(const float* g, int64_t batch, int64_t out, float* db);

}  // namespace crank

#endif  // CRANK_KERNELS_LINEAR_H_
