#ifndef CRANK_KERNELS_GEMM_H_
#define CRANK_KERNELS_GEMM_H_

// The one dense matrix-multiply entry point (row-major), its process-wide compute settings (the
// thread count shared by the GEMM libraries and crank's own OpenMP loops, the GEMM precision and
// the fp32 backend) and a description of what is active, for logs and benchmark reports.
//
// Backends: OpenBLAS sgemm, and oneDNN matmul (gemm_onednn.h) when the build links it
// (CMake option CRANK_WITH_ONEDNN, on by default; package libdnnl-dev). The bf16 precision needs
// oneDNN and a CPU with AVX512-BF16; elsewhere it falls back to fp32.
//
// Determinism: results are bit-identical from run to run and across thread counts. Gemm cuts C
// into bands of whole rows (of whole columns for X^T G products wider than tall) by a rule that
// sees the shape but not the thread count, runs each
// band as a single-threaded library call and shares the bands out among the threads (gemm.cc,
// TiledGemm); neither library's own threading (which splits M, N or K by the thread count) is
// used. A row's result may depend on the batch (M) it is computed in, in the last bits: the
// libraries pick their kernels by shape, as every BLAS-based engine does; the same batches give
// the same bits.

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "crank/kernels/activation.h"

namespace crank {

// Row-major C(M, N) = alpha * op(A) * op(B) + beta * C, where op(X) = X^T when trans_x.
//   a: op(A) is (M, K); A itself is (K, M) when trans_a, else (M, K); row stride lda.
//   b: op(B) is (K, N); B itself is (N, K) when trans_b, else (K, N); row stride ldb.
//   c: (M, N), row stride ldc. When beta == 0, C's previous contents are ignored (NaN-safe).
// Preconditions (CRANK_CHECK): M, N, K >= 0, each fits in an int, leading dimensions are at
// least the stored row width (and >= 1). K == 0 gives C = beta * C.
// Precision: when GemmRunsInBf16(M, N, K), op(A) and op(B) are rounded to bf16 (round to
// nearest even, bf16.h) into per-thread grow-only scratch buffers and multiplied on oneDNN with
// fp32 accumulation; alpha, beta and C stay fp32 and the caller's A and B are not modified.
// B is rounded once per call; an untransposed A is rounded band by band, each row band of C
// rounding its own rows on the thread that computes it, in the same parallel region.
// Thread-safety: reentrant (each calling thread has its own scratch buffers and oneDNN
// primitive cache); spreads its tiles over ComputeThreads() threads of the calling thread (one
// when called from inside an OpenMP parallel region). No allocation once a shape has been seen
// on a thread. The precision is the calling thread's (compute_settings.h), else the process's.
void Gemm(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha, const float* a,
          int64_t lda, const float* b, int64_t ldb, float beta, float* c, int64_t ldc);

// A dense layer's forward product, C(M, N) = act(A B + bias): plain row-major A (M, K), B (K, N),
// bias (N) or nullptr, C (M, N) overwritten; strides and preconditions as Gemm. Gives the bits of
// Gemm(false, false, m, n, k, 1, a, lda, b, ldb, 0, c, ldc) followed by BiasActivationForward
// (ActivationForward without a bias) on each row of C, but fused into the product: each tile of
// C gets its bias and activation right after its product, on the thread that computed it, in
// the same parallel region, while the tile is still in cache. On oneDNN tiles the bias is the
// matmul's bias input; the activation stays crank's (oneDNN's ReLU post-op maps NaN to 0, crank's
// ReLU keeps NaN so that a diverged model shows a non-finite loss). bf16 tiles also round their
// own rows of A in the same region (see Gemm's Precision). One-row products (gemm_small.h) run
// the product first and the pass after it. Thread-safety as Gemm. b_bf16: nullptr, or B's bf16 copy
// as for GemmWithBf16B below, used where the product runs in bf16.
void GemmBiasActivation(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, int64_t ldb, const float* bias, Activation act, float* c,
                        int64_t ldc, const uint16_t* b_bf16 = nullptr);

// Gemm with B's bf16 copy made by the caller, for a weight matrix that several products use
// between two updates (a layer's forward x W and input gradient g W^T): b_bf16 is
// RoundToBf16(b) (bf16.h) in B's stored layout, dense (row stride N, or K when trans_b), or
// nullptr. Where the product runs in bf16 (GemmRunsInBf16(M, N, K)) b_bf16 is used instead of
// rounding b on this call; the result is bit-identical to Gemm's on the same b. Elsewhere, and
// when b_bf16 is nullptr, it is Gemm. Same preconditions and thread-safety as Gemm; b_bf16 is
// only read.
void GemmWithBf16B(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                   const float* a, int64_t lda, const float* b, int64_t ldb, const uint16_t* b_bf16,
                   float beta, float* c, int64_t ldc);

// Sets the thread count of OpenMP loops, OpenBLAS and oneDNN (n >= 1, else InvalidArgument).
// Process-wide; call it from the main thread, outside parallel regions.
void SetComputeThreads(int n);

// The thread count set by SetComputeThreads (the OpenMP default, usually the core count, before).
int ComputeThreads();

// The precision of Gemm's multiplications. kBf16 rounds the GEMM inputs (activations, weights,
// gradients as they enter a GEMM) to bf16 and accumulates in fp32; master weights, optimizer
// state and everything outside Gemm stay fp32.
enum class GemmPrecision { kFp32, kBf16 };

// Process-wide default; ScopedComputeSettings (compute_settings.h) overrides it per thread.
// Call from the main thread, outside parallel regions (like SetComputeThreads). kBf16 where
// Bf16Supported() is false is accepted and runs in fp32 (ActiveGemmPrecision() says kFp32 and
// GemmBackendDescription() says why).
void SetGemmPrecision(GemmPrecision precision);

// The precision last set (kFp32 before any call).
GemmPrecision GetGemmPrecision();

// The precision Gemm actually uses on the calling thread: its ScopedComputeSettings override
// or else GetGemmPrecision(), except kFp32 when bf16 is unsupported.
GemmPrecision ActiveGemmPrecision();

// True when bf16 GEMMs run natively: the build has oneDNN and the CPU has AVX512-BF16 (which
// every AMX-BF16 CPU also has). Detected at run time.
bool Bf16Supported();

// True when a Gemm of shape (M, N, K) on the calling thread runs with bf16-rounded inputs:
// ActiveGemmPrecision() is kBf16 and min(M, N, K) >= 16. Thinner products stay fp32: they carry
// a negligible share of the FLOPs and the precision-sensitive ends of a model (the first layer
// multiplies the raw dense features, the last one is a 1-unit output).
bool GemmRunsInBf16(int64_t m, int64_t n, int64_t k);

// "fp32" / "bf16" and back; anything else throws InvalidArgument naming the accepted values.
GemmPrecision ParseGemmPrecision(std::string_view name);
std::string_view GemmPrecisionName(GemmPrecision precision);

// Which library runs fp32 GEMMs. kAuto (the default) picks per shape by a measured rule: oneDNN
// where N >= 8, and M >= 8 too where A is transposed (and the build has it), else OpenBLAS
// (docs/performance.md, "GEMM backend and bf16"); one-row products with neither operand
// transposed (a dense layer at batch 1) run on crank's own kernel where the build targets
// AVX-512 (gemm_small.h; docs/performance.md, "Small batches"). kOpenBlas keeps every fp32
// GEMM on OpenBLAS. bf16 GEMMs always run on oneDNN.
enum class GemmBackend { kAuto, kOpenBlas, kOneDnn };

// Process-wide, like SetGemmPrecision. kOneDnn without oneDNN in the build: InvalidArgument.
void SetGemmBackend(GemmBackend backend);
GemmBackend GetGemmBackend();

// "auto" / "openblas" / "onednn" and back; anything else throws InvalidArgument.
GemmBackend ParseGemmBackend(std::string_view name);
std::string_view GemmBackendName(GemmBackend backend);

// The active GEMM precision, libraries and thread count, for logs and benchmark reports, e.g.
//   "fp32 on oneDNN 2.6.3 (avx512_core_bf16) where N >= 8 (and M >= 8 where A is transposed),
//    else OpenBLAS 0.3.21 (core Cooperlake, OpenMP), 2 threads"          (the defaults)
//   "bf16 on oneDNN 2.6.3 (avx512_core_bf16) where min(M, N, K) >= 16, else fp32 on ..."
//   "fp32 on OpenBLAS 0.3.21 (core Cooperlake, OpenMP), 1 thread (bf16 requested: not
//    supported on this CPU, running fp32)"
std::string GemmBackendDescription();

}  // namespace crank

#endif  // CRANK_KERNELS_GEMM_H_
