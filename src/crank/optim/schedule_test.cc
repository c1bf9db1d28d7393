// Tests of the learning-rate schedules: one table of (schedule, step, expected rate) cases, one
// of descriptions and one of invalid options, each run by a single test body.

#include "crank/optim/schedule.h"

#include <gtest/gtest.h>

#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "op_test_harness.h"

namespace crank {
namespace {

using MakeSchedule = std::function<std::unique_ptr<LearningRateSchedule>()>;

// WarmUpAndPolyDecay with the defaults changed by `edit`.
MakeSchedule WarmUp(std::function<void(WarmUpAndPolyDecayOptions&)> edit = {}) {
  return [edit] {
    WarmUpAndPolyDecayOptions o;
    if (edit) edit(o);
    return MakeWarmUpAndPolyDecay(o);
  };
}

// How a rate is compared: exactly, within 4 ulps (EXPECT_FLOAT_EQ), or within an absolute error.
enum class Compare { kExact, kFloatEq, kNear };

struct RatePoint {
  int64_t step;
  float rate;
  Compare compare = Compare::kFloatEq;
  float abs_error = 0.0f;  // kNear only
};

struct RateCase {
  std::string name;
  MakeSchedule make;
  std::vector<RatePoint> points;
};

class ScheduleRate : public ::testing::TestWithParam<RateCase> {};

TEST_P(ScheduleRate, MatchesTheHandComputedRates) {
  const auto s = GetParam().make();
  for (const RatePoint& p : GetParam().points) {
    SCOPED_TRACE("step " + std::to_string(p.step));
    switch (p.compare) {
      case Compare::kExact:
        EXPECT_EQ(s->Rate(p.step), p.rate);
        break;
      case Compare::kFloatEq:
        EXPECT_FLOAT_EQ(s->Rate(p.step), p.rate);
        break;
      case Compare::kNear:
        EXPECT_NEAR(s->Rate(p.step), p.rate, p.abs_error);
        break;
    }
  }
}

// WarmUpAndPolyDecay defaults: batch 2048 (scale 1), peak 40, warm-up 8000, plateau to 10000,
// decay over 12000, exponent 2. Values computed by hand from the Model Garden formula.
const std::vector<RateCase> kRateCases = {
    {"ConstantReturnsTheSameRateAtEveryStep",
     [] { return MakeConstantSchedule(0.05f); },
     {{0, 0.05f, Compare::kExact}, {1, 0.05f, Compare::kExact}, {1000000, 0.05f, Compare::kExact}}},
    {"WarmUpIsLinearWithTheFloorAtTheStart",
     WarmUp(),
     {{0, 0.01f},  // 0 / 8000 * 40 = 0 -> floor 0.01
      {1, 0.01f},  // 0.005 -> floor 0.01
      {2, 0.01f},
      {3, 0.015f},    // 3 / 8000 * 40
      {800, 4.0f},    // 800 / 8000 * 40
      {4000, 20.0f},  // half-way
      {7999, 39.995f}}},
    {"HoldsThePeakUntilDecayStart",
     WarmUp(),
     {{8000, 40.0f}, {9000, 40.0f}, {10000, 40.0f}}},  // decay starts after decay_start_steps
    {"DecaysPolynomiallyThenHitsTheFloors",
     WarmUp(),
     {{10001, 40.0f * (11999.0f / 12000.0f) * (11999.0f / 12000.0f)},
      {13000, 22.5f},                              // 40 * (9000 / 12000)^2
      {16000, 10.0f},                              // 40 * (6000 / 12000)^2
      {21000, 0.2777778f, Compare::kNear, 1e-6f},  // 40 * (1000 / 12000)^2
      {21999, 0.01f},                              // 2.8e-7 -> 1e-4 -> 0.01
      {22000, 0.01f},                              // fully decayed: 0 -> 1e-4 -> 0.01
      {1000000, 0.01f}}},                          // stays there
    {"ScalesByHalfForBatch1024",
     WarmUp([](auto& o) { o.batch_size = 1024; }),
     {{4000, 10.0f}, {9000, 20.0f}, {13000, 11.25f}}},
    {"ScalesBy32ForBatch65536", WarmUp([](auto& o) { o.batch_size = 65536; }), {{9000, 1280.0f}}},
    {"FloorsSmallLearningRatesAtOneHundredth",
     WarmUp([](auto& o) { o.learning_rate = 0.005; }),
     {{4000, 0.01f}, {9000, 0.01f}, {13000, 0.01f}}},
    {"WithoutWarmUpReturnsTheScaledRateWithNoDecayOrFloor",
     WarmUp([](auto& o) {
       o.warmup_steps = 0;
       o.learning_rate = 0.001;
       o.batch_size = 4096;
     }),
     {{0, 0.002f}, {13000, 0.002f}, {50000, 0.002f}}},
    {"WithoutDecayStepsStaysAtThePeak",
     WarmUp([](auto& o) { o.decay_steps = 0; }),
     {{10001, 40.0f}, {1000000, 40.0f}}},
    {"WarmUpTakesPrecedenceOverAnEarlierDecayStart",
     WarmUp([](auto& o) {
       o.decay_start_steps = 5000;
       o.decay_exp = 1;
     }),
     {{6000, 30.0f},                 // still warming up
      {8000, 40.0f * 9000 / 12000},  // decaying for 3000 steps, linearly
      {11000, 20.0f}}},
};

INSTANTIATE_TEST_SUITE_P(Schedules, ScheduleRate, ::testing::ValuesIn(kRateCases),
                         testing::CaseName<RateCase>);

struct DescribeCase {
  std::string name;
  MakeSchedule make;
  std::string description;
};

class ScheduleDescribe : public ::testing::TestWithParam<DescribeCase> {};

TEST_P(ScheduleDescribe, NamesTheScheduleAndItsOptions) {
  EXPECT_EQ(GetParam().make()->Describe(), GetParam().description);
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, ScheduleDescribe,
    ::testing::ValuesIn(std::vector<DescribeCase>{
        {"Constant", [] { return MakeConstantSchedule(0.05f); }, "constant(0.05)"},
        {"WarmUpAndPolyDecay", WarmUp(),
         "warmup_poly_decay(learning_rate=40, batch_size=2048, warmup_steps=8000, "
         "decay_start_steps=10000, decay_steps=12000, decay_exp=2)"}}),
    testing::CaseName<DescribeCase>);

struct InvalidCase {
  std::string name;
  MakeSchedule make;
};

class ScheduleRejects : public ::testing::TestWithParam<InvalidCase> {};

TEST_P(ScheduleRejects, InvalidOptionsWithInvalidArgument) {
  EXPECT_THROW(GetParam().make(), InvalidArgument);
}

INSTANTIATE_TEST_SUITE_P(
    Schedules, ScheduleRejects,
    ::testing::ValuesIn(std::vector<InvalidCase>{
        {"ConstantNegative", [] { return MakeConstantSchedule(-0.1f); }},
        {"ConstantInfinite",
         [] { return MakeConstantSchedule(std::numeric_limits<float>::infinity()); }},
        {"ConstantNaN",
         [] { return MakeConstantSchedule(std::numeric_limits<float>::quiet_NaN()); }},
        {"WarmUpZeroBatchSize", WarmUp([](auto& o) { o.batch_size = 0; })},
        {"WarmUpNegativeWarmUpSteps", WarmUp([](auto& o) { o.warmup_steps = -1; })},
        {"WarmUpNegativeDecaySteps", WarmUp([](auto& o) { o.decay_steps = -1; })},
        {"WarmUpNegativeDecayStart", WarmUp([](auto& o) { o.decay_start_steps = -1; })},
        {"WarmUpNegativeLearningRate", WarmUp([](auto& o) { o.learning_rate = -1; })},
        {"WarmUpNegativeDecayExponent", WarmUp([](auto& o) { o.decay_exp = -1; })}}),
    testing::CaseName<InvalidCase>);

}  // namespace
}  // namespace crank
