#include "crank/yaml/emitter.h"

#include <gtest/gtest.h>

#include <limits>

namespace crank {
namespace {

TEST(ShortestText, FloatsAreTheirShortestRoundTripText) {
  EXPECT_EQ(ShortestText(1e-5f), "1e-05");
  EXPECT_EQ(ShortestText(0.1f), "0.1");
  EXPECT_EQ(ShortestText(0.002f), "0.002");
  EXPECT_EQ(ShortestText(0.999f), "0.999");
  EXPECT_EQ(ShortestText(1.0f), "1");
  EXPECT_EQ(ShortestText(-0.5f), "-0.5");
  EXPECT_EQ(ShortestText(10.0), "10");
  EXPECT_EQ(ShortestText(0.1), "0.1");
  EXPECT_EQ(ShortestText(std::numeric_limits<float>::quiet_NaN()), "nan");
  EXPECT_EQ(ShortestText(-std::numeric_limits<double>::infinity()), "-inf");
}

TEST(ShortestText, ReadsBackAsTheSameValue) {
  for (const float v : {1e-7f, 0.3f, 123456.789f, 3.4028235e38f, 1.17549435e-38f}) {
    EXPECT_EQ(YAML::Load(ShortestText(v)).as<float>(), v) << ShortestText(v);
  }
}

TEST(YamlNumber, IsWrittenAsAPlainScalar) {
  YAML::Emitter out;
  out << YAML::BeginMap << YAML::Key << "epsilon" << YAML::Value << YamlNumber(1e-7f) << YAML::Key
      << "rate" << YAML::Value << YamlNumber(0.002f) << YAML::EndMap;
  EXPECT_EQ(EmittedText(out), "epsilon: 1e-07\nrate: 0.002\n");
}

}  // namespace
}  // namespace crank
