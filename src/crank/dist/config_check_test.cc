#include "crank/dist/config_check.h"

#include <gtest/gtest.h>

namespace crank {
namespace {

TEST(FirstYamlDifference, NamesTheKeyPathAndBothValues) {
  const std::string a = "data:\n  format: criteo\ntrain:\n  batch_size: 64\n  epochs: 2\n";
  const std::string b = "data:\n  format: criteo\ntrain:\n  batch_size: 128\n  epochs: 2\n";
  EXPECT_EQ(FirstYamlDifference(a, a), "");
  EXPECT_EQ(FirstYamlDifference(a, b), "train.batch_size: '64' vs '128'");
  EXPECT_EQ(FirstYamlDifference(a, a + "extra: 1\n"), "extra: '(absent)' vs '1'");
}

TEST(CheckSameConfiguration, OneProcessHasNothingToCompare) {
  LocalProcessGroup g;
  EXPECT_NO_THROW(CheckSameConfiguration(g, "a: 1\n"));
}

}  // namespace
}  // namespace crank
