#ifndef CRANK_KERNELS_GEMM_SMALL_H_
#define CRANK_KERNELS_GEMM_SMALL_H_

// crank's own fp32 kernel for products with very few rows, C(M, N) = alpha * A B + beta * C
// with neither operand transposed: a dense layer's forward pass at batch 1 to a few rows, where
// the work is streaming B (the layer's weights) once and the libraries' per-call costs (packing,
// dispatch) are a large share (docs/performance.md, "Small batches"). Gemm (gemm.h) sends such
// products here by its per-shape rule; this header exists for Gemm and its tests.
//
// Each C(i, j) is the fused multiply-add chain over k = 0, 1, ..., K-1 of A(i, k) B(k, j)
// starting from zero, then alpha and beta applied; the row and column blocking does not change
// it. So a row's result does not depend on M or on which other rows share the call, and the
// vector (AVX-512 / AVX2) and scalar code paths give the same bits.
// Single-threaded, no allocation, reentrant. Shapes and strides as Gemm's (row-major).

#include <cstdint>

namespace crank {

void SmallRowsGemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                   int64_t ldc);

// True when SmallRowsGemm runs its AVX-512 code (the library was compiled for AVX-512, as
// CRANK_NATIVE builds on such a CPU are); false means the scalar loop, which Gemm never picks.
bool SmallRowsGemmVectorized();

}  // namespace crank

#endif  // CRANK_KERNELS_GEMM_SMALL_H_
