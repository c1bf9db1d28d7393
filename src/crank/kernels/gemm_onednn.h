#ifndef CRANK_KERNELS_GEMM_ONEDNN_H_
#define CRANK_KERNELS_GEMM_ONEDNN_H_

// oneDNN matmul behind crank::Gemm (gemm.h), fp32 and bf16-input variants. Internal to the
// kernels library: callers use Gemm with SetGemmBackend / SetGemmPrecision.
//
// Each calling thread keeps its own CPU engine, stream, scratchpad and primitive cache, keyed by
// (M, N, K, transposes, lda/ldb/ldc, input type, alpha != 1, beta, bias, thread count), so a
// repeated shape re-uses its primitive and steady-state calls allocate nothing on crank's side.
// oneDNN runs on libgomp: it uses omp_get_max_threads() threads, one inside an OpenMP parallel
// region; Gemm calls it once per tile of C with one thread (gemm.h, "Determinism"), so a shape's
// results are the same bits whatever the thread count.
//
// When crank is built without oneDNN (CRANK_WITH_ONEDNN=OFF or the package missing)
// OneDnnAvailable() is false and the Gemm functions here must not be called (CRANK_CHECK).

#include <cstdint>
#include <string>

namespace crank {

// True when this build links oneDNN.
bool OneDnnAvailable();

// True when oneDNN runs bf16 matmuls with native bf16 instructions on this CPU (its ISA is
// avx512_core_bf16 or newer); false without oneDNN.
bool OneDnnHasNativeBf16();

// E.g. "oneDNN 2.6.3 (avx512_core_bf16)"; "no oneDNN" without it.
std::string OneDnnDescription();

// Row-major C(M, N) = alpha * op(A) op(B) + beta * C with fp32 inputs; the argument contract of
// Gemm (gemm.h), already checked by it: M, N, K >= 1, leading dimensions valid.
void OneDnnGemmFp32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc);

// C(M, N) = A B + bias, A (M, K) and B (K, N) plain row-major fp32 (strides lda, ldb, ldc) and
// bias (N) added to every row by oneDNN's matmul bias input as each tile of C is stored: the
// same bits as OneDnnGemmFp32 (alpha 1, beta 0) followed by c[i][j] += bias[j]
// (kernels/gemm_test.cc checks this). Argument contract as OneDnnGemmFp32.
void OneDnnGemmFp32Bias(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc);

// The same with bf16 inputs (bit patterns as FloatToBf16 makes them, bf16.h), fp32 accumulation
// and fp32 C: A is stored (K, M) when trans_a else (M, K) with row stride lda, likewise B.
void OneDnnGemmBf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float beta,
                    float* c, int64_t ldc);

// The oneDNN implementation a shape would use, e.g. "brg:avx512_core_bf16" (for benchmarks).
std::string OneDnnImplementation(bool bf16, bool trans_a, bool trans_b, int64_t m, int64_t n,
                                 int64_t k, int64_t lda, int64_t ldb, int64_t ldc);

}  // namespace crank

#endif  // CRANK_KERNELS_GEMM_ONEDNN_H_
