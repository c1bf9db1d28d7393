// `crank train --precision auto` (the default): the log says what auto chose and why, the model
// file stores the choice (fp32 or bf16, never auto), and eval runs the stored precision.

#include <gtest/gtest.h>

#include <string>

#include "cli_fixture.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

using testing::CliFixture;
using testing::Result;

class PrecisionCli : public CliFixture {};

std::string TinyModel(int batch) {
  return " --embedding-dim 4 --bottom 16,4 --top 16,1 --hash-buckets 2000 --threads 1 "
         "--max-steps 2 --batch-size " +
         std::to_string(batch);
}

TEST_F(PrecisionCli, AutoResolvesByCpuAndBatchAndTheModelStoresTheChoice) {
  Generate(1200, 100);
  const bool native = Bf16Supported();
  // Batch 512: bf16 where the CPU has it; batch 128: fp32 everywhere (docs/config.md).
  Result r =
      Run("train --train " + P("train.tsv") + " --model-out " + P("a.crank") + TinyModel(512));
  ASSERT_EQ(r.code, 0) << r.err;
  if (native) {
    EXPECT_NE(r.err.find("precision: auto: bf16 GEMMs, fp32 master weights (AVX512-BF16, batch "
                         "512 in [512, 4096])"),
              std::string::npos)
        << r.err;
    EXPECT_NE(r.err.find("bf16 on oneDNN"), std::string::npos) << r.err;  // the compute line
  } else {
    EXPECT_NE(r.err.find("precision: auto: fp32 (this CPU or build has no native bf16 GEMM)"),
              std::string::npos)
        << r.err;
  }
  const std::string stored = native ? "precision: bf16" : "precision: fp32";
  EXPECT_NE(r.err.find(stored), std::string::npos) << r.err;  // the resolved configuration
  EXPECT_EQ(r.err.find("precision: auto\n"), std::string::npos) << r.err;

  // eval without --precision runs the stored one, and says so on its compute line.
  r = Run("eval --model " + P("a.crank") + " --data " + P("eval.tsv"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find(native ? "bf16 on oneDNN" : "fp32 on"), std::string::npos) << r.err;
  r = Run("eval --model " + P("a.crank") + " --data " + P("eval.tsv") + " --precision fp32");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(r.err.find("bf16 on oneDNN"), std::string::npos) << r.err;

  r = Run("train --train " + P("train.tsv") + " --model-out " + P("b.crank") + TinyModel(128));
  ASSERT_EQ(r.code, 0) << r.err;
  if (native) {
    EXPECT_NE(r.err.find("precision: auto: fp32 (batch 128 outside [512, 4096]"), std::string::npos)
        << r.err;
  }
  EXPECT_NE(r.err.find("precision: fp32"), std::string::npos) << r.err;

  r = Run("train --train " + P("train.tsv") + " --model-out " + P("c.crank") + TinyModel(512) +
          " --precision fp32");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("precision: fp32 (as configured)"), std::string::npos) << r.err;
  r = Run("train --train " + P("train.tsv") + " --model-out " + P("d.crank") + TinyModel(512) +
          " --precision fp16");
  EXPECT_NE(r.code, 0);
  EXPECT_NE(r.err.find("--precision: expected auto, fp32 or bf16, got 'fp16'"), std::string::npos)
      << r.err;
}

}  // namespace
}  // namespace crank
