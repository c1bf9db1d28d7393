#ifndef CRANK_TRAIN_PRECISION_CHOICE_H_
#define CRANK_TRAIN_PRECISION_CHOICE_H_

// `precision: auto` (the default of train.precision and --precision): which GEMM precision a
// training job runs, by a rule measured in docs/performance.md ("bf16 by default: the parity
// study"): bf16 GEMMs (fp32 master weights) where the CPU runs them natively (AVX512-BF16,
// which every AMX CPU has; Bf16Supported() in kernels/gemm.h) and the batch size is one where
// bf16 trained to the same eval AUC as fp32 (mean within 0.001 over 6 seeds on 3 data
// families) and was faster; fp32 everywhere else. The choice is made once per job, before
// training, and the chosen precision (not "auto") is what the job's configuration and model
// file record, so eval, predict and serve run a model in the precision it was trained in.

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "crank/kernels/gemm.h"

namespace crank {

// The batch sizes where `auto` picks bf16 on a CPU that has it (inclusive).
inline constexpr int64_t kAutoBf16MinBatch = 512;
inline constexpr int64_t kAutoBf16MaxBatch = 4096;

// A precision setting: fp32, bf16, or nullopt for auto.
using PrecisionSetting = std::optional<GemmPrecision>;

// "auto" / "fp32" / "bf16" and back; anything else throws InvalidArgument naming the accepted
// values.
PrecisionSetting ParsePrecisionSetting(std::string_view name);
std::string_view PrecisionSettingName(const PrecisionSetting& setting);

// What a job runs and why, for its log.
struct PrecisionChoice {
  GemmPrecision precision = GemmPrecision::kFp32;
  std::string reason;  // e.g. "auto: bf16 (AVX512-BF16, batch 2048 in [512, 4096])"
};

// The rule above with the CPU capability passed in (Bf16Supported() in production), so it can
// be tested for any CPU. An explicit fp32 or bf16 setting is kept as given (bf16 on a CPU
// without it then runs fp32, as SetGemmPrecision says). batch_size > 0.
PrecisionChoice ChoosePrecision(const PrecisionSetting& setting, int64_t batch_size,
                                bool bf16_native);

}  // namespace crank

#endif  // CRANK_TRAIN_PRECISION_CHOICE_H_
