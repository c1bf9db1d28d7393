#include "crank/yaml/emitter.h"

#include <gtest/gtest.h>

#include <cmath>
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

TEST(YamlNumber, NonFiniteValuesUseTheYamlSpellingsThatReadBack) {
  for (const float v :
       {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity()}) {
    YAML::Emitter out;
    out << YamlNumber(v);
    EXPECT_EQ(YAML::Load(out.c_str()).as<float>(), v) << out.c_str();
  }
  YAML::Emitter nan;
  nan << YamlNumber(std::numeric_limits<double>::quiet_NaN());
  EXPECT_STREQ(nan.c_str(), ".nan");
  EXPECT_TRUE(std::isnan(YAML::Load(nan.c_str()).as<double>()));
}

}  // namespace
}  // namespace crank
