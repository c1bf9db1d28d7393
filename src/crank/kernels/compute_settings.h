#ifndef CRANK_KERNELS_COMPUTE_SETTINGS_H_
#define CRANK_KERNELS_COMPUTE_SETTINGS_H_

// Compute settings of one model (thread count, GEMM precision), installed for one calling thread,
// so that two models with different settings can run in one process at the same time: a server
// with an fp32 and a bf16 model, two trainers on two threads.
//
// The process-wide settings of gemm.h (SetComputeThreads, SetGemmPrecision, SetGemmBackend) stay
// the defaults. A ScopedComputeSettings overrides, on the thread that creates it and until it is
// destroyed:
//   - threads: the OpenMP thread count (the calling thread's nthreads ICV) of the parallel
//     regions this thread starts: crank's own loops and Gemm's tiles (gemm.h), and
//     ComputeThreads() read on this thread. Other threads keep theirs.
//   - precision: the precision of the Gemm calls this thread makes (GetGemmPrecision() and
//     SetGemmPrecision() stay process-wide; ActiveGemmPrecision() and GemmRunsInBf16() read on
//     this thread follow the override). Gemm calls made by the workers of a parallel region
//     see the process default; crank's kernels call Gemm only outside parallel regions.
// What stays process-wide: the fp32 backend choice (SetGemmBackend) and the thread pools of the
// libraries themselves (OpenBLAS's openblas_set_num_threads; Gemm runs each library call on one
// thread, so neither library's own threading is used by Gemm).
//
// Results: a computation under given settings gives the same bits whichever other thread runs
// whatever else at the same time (Gemm's per-thread scratch and primitive caches, gemm.h).

#include <optional>

#include "crank/kernels/gemm.h"

namespace crank {

// Plain settings with in-class defaults; the defaults change nothing.
struct ComputeSettings {
  // OpenMP threads of the regions started under the settings; 0 keeps the calling thread's
  // current count (the process default: SetComputeThreads on the main thread, OMP_NUM_THREADS or
  // the core count on other threads).
  int threads = 0;
  // The GEMM precision; nullopt keeps the process default (SetGemmPrecision). kBf16 where
  // Bf16Supported() is false runs fp32, as SetGemmPrecision(kBf16) does.
  std::optional<GemmPrecision> precision;

  // threads >= 0, else InvalidArgument naming the value.
  void Validate() const;

  bool operator==(const ComputeSettings&) const = default;
};

// Installs `settings` on the calling thread for its lifetime, restoring what was there before
// (guards nest). Create and destroy it on the same thread, outside parallel regions. Not
// copyable or movable. Throws InvalidArgument when settings.Validate() does.
class ScopedComputeSettings {
 public:
  explicit ScopedComputeSettings(const ComputeSettings& settings);
  ~ScopedComputeSettings();
  ScopedComputeSettings(const ScopedComputeSettings&) = delete;
  ScopedComputeSettings& operator=(const ScopedComputeSettings&) = delete;

 private:
  int saved_threads_;  // 0: threads were not changed
  std::optional<GemmPrecision> saved_precision_;
};

// The precision override installed on the calling thread by ScopedComputeSettings, nullopt
// when none (Gemm then uses the process default).
std::optional<GemmPrecision> ThreadGemmPrecision();

}  // namespace crank

#endif  // CRANK_KERNELS_COMPUTE_SETTINGS_H_
