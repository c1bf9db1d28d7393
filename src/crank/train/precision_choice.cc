#include "crank/train/precision_choice.h"

#include <fmt/format.h>

#include "crank/base/error.h"

namespace crank {

PrecisionSetting ParsePrecisionSetting(std::string_view name) {
  if (name == "auto") return std::nullopt;
  if (name == "fp32") return GemmPrecision::kFp32;
  if (name == "bf16") return GemmPrecision::kBf16;
  throw InvalidArgument(fmt::format("precision: expected auto, fp32 or bf16, got '{}'", name));
}

std::string_view PrecisionSettingName(const PrecisionSetting& setting) {
  return setting ? GemmPrecisionName(*setting) : "auto";
}

PrecisionChoice ChoosePrecision(const PrecisionSetting& setting, int64_t batch_size,
                                bool bf16_native) {
  CRANK_REQUIRE(batch_size > 0, "precision: batch size must be > 0, got {}", batch_size);
  if (setting) {
    return {*setting, fmt::format("{} (as configured)", GemmPrecisionName(*setting))};
  }
  if (!bf16_native) {
    return {GemmPrecision::kFp32, "auto: fp32 (this CPU or build has no native bf16 GEMM)"};
  }
  if (batch_size < kAutoBf16MinBatch || batch_size > kAutoBf16MaxBatch) {
    return {GemmPrecision::kFp32,
            fmt::format("auto: fp32 (batch {} outside [{}, {}], where bf16 matched fp32 and was "
                        "faster)",
                        batch_size, kAutoBf16MinBatch, kAutoBf16MaxBatch)};
  }
  return {GemmPrecision::kBf16, fmt::format("auto: bf16 GEMMs, fp32 master weights (AVX512-BF16, "
                                            "batch {} in [{}, {}])",
                                            batch_size, kAutoBf16MinBatch, kAutoBf16MaxBatch)};
}

}  // namespace crank
