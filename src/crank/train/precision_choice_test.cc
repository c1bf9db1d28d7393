#include "crank/train/precision_choice.h"

#include <gtest/gtest.h>

#include <string>

#include "crank/base/error.h"
#include "crank/train/job_config.h"

namespace crank {
namespace {

TEST(PrecisionChoice, AutoPicksBf16OnlyWithNativeBf16AndInTheStudiedBatchRange) {
  for (int64_t batch : {kAutoBf16MinBatch, int64_t{2048}, kAutoBf16MaxBatch}) {
    const PrecisionChoice c = ChoosePrecision(std::nullopt, batch, /*bf16_native=*/true);
    EXPECT_EQ(c.precision, GemmPrecision::kBf16) << batch;
    EXPECT_NE(c.reason.find("auto: bf16"), std::string::npos) << c.reason;
    EXPECT_EQ(ChoosePrecision(std::nullopt, batch, /*bf16_native=*/false).precision,
              GemmPrecision::kFp32)
        << batch;
  }
  for (int64_t batch : {int64_t{1}, int64_t{128}, kAutoBf16MinBatch - 1, kAutoBf16MaxBatch + 1}) {
    const PrecisionChoice c = ChoosePrecision(std::nullopt, batch, /*bf16_native=*/true);
    EXPECT_EQ(c.precision, GemmPrecision::kFp32) << batch;
    EXPECT_NE(c.reason.find("batch " + std::to_string(batch) + " outside"), std::string::npos)
        << c.reason;
  }
  EXPECT_NE(ChoosePrecision(std::nullopt, 2048, false).reason.find("no native bf16"),
            std::string::npos);
}

TEST(PrecisionChoice, ExplicitSettingsAreKeptWhateverTheCpuAndBatch) {
  for (bool native : {false, true}) {
    for (int64_t batch : {int64_t{1}, int64_t{2048}}) {
      EXPECT_EQ(ChoosePrecision(GemmPrecision::kFp32, batch, native).precision,
                GemmPrecision::kFp32);
      EXPECT_EQ(ChoosePrecision(GemmPrecision::kBf16, batch, native).precision,
                GemmPrecision::kBf16);
    }
  }
  EXPECT_THROW(ChoosePrecision(std::nullopt, 0, true), InvalidArgument);
}

TEST(PrecisionChoice, NamesRoundTripAndAutoIsTheDefault) {
  for (const char* name : {"auto", "fp32", "bf16"}) {
    EXPECT_EQ(PrecisionSettingName(ParsePrecisionSetting(name)), name);
  }
  EXPECT_THROW(ParsePrecisionSetting("fp16"), InvalidArgument);
  EXPECT_FALSE(TrainOptions().precision.has_value());
  const JobConfig c = JobConfig::FromYamlString("train:\n  precision: auto\n", "test.yaml");
  EXPECT_FALSE(c.train.precision.has_value());
  EXPECT_NE(c.ToYaml().find("precision: auto"), std::string::npos);
  const JobConfig b = JobConfig::FromYamlString("train:\n  precision: bf16\n", "test.yaml");
  EXPECT_EQ(b.train.precision, GemmPrecision::kBf16);
}

}  // namespace
}  // namespace crank
