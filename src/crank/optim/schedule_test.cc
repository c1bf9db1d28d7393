#include "crank/optim/schedule.h"

#include <gtest/gtest.h>

#include <limits>

#include "crank/base/error.h"

namespace crank {
namespace {

TEST(ConstantSchedule, ReturnsTheSameRateAtEveryStep) {
  auto s = MakeConstantSchedule(0.05f);
  EXPECT_EQ(s->Rate(0), 0.05f);
  EXPECT_EQ(s->Rate(1), 0.05f);
  EXPECT_EQ(s->Rate(1000000), 0.05f);
  EXPECT_EQ(s->Describe(), "constant(0.05)");
}

TEST(ConstantSchedule, RejectsNegativeOrNonFiniteRates) {
  EXPECT_THROW(MakeConstantSchedule(-0.1f), InvalidArgument);
  EXPECT_THROW(MakeConstantSchedule(std::numeric_limits<float>::infinity()), InvalidArgument);
  EXPECT_THROW(MakeConstantSchedule(std::numeric_limits<float>::quiet_NaN()), InvalidArgument);
}

// Defaults: batch 2048 (scale 1), peak 40, warm-up 8000, plateau to 10000, decay over 12000,
// exponent 2. Values computed by hand from the Model Garden formula.
TEST(WarmUpAndPolyDecay, WarmsUpLinearlyWithTheFloorAtTheStart) {
  auto s = MakeWarmUpAndPolyDecay({});
  EXPECT_FLOAT_EQ(s->Rate(0), 0.01f);     // 0 / 8000 * 40 = 0 -> floor 0.01
  EXPECT_FLOAT_EQ(s->Rate(1), 0.01f);     // 0.005 -> floor 0.01
  EXPECT_FLOAT_EQ(s->Rate(2), 0.01f);     // 0.01
  EXPECT_FLOAT_EQ(s->Rate(3), 0.015f);    // 3 / 8000 * 40
  EXPECT_FLOAT_EQ(s->Rate(800), 4.0f);    // 800 / 8000 * 40
  EXPECT_FLOAT_EQ(s->Rate(4000), 20.0f);  // half-way
  EXPECT_FLOAT_EQ(s->Rate(7999), 39.995f);
}

TEST(WarmUpAndPolyDecay, HoldsThePeakUntilDecayStart) {
  auto s = MakeWarmUpAndPolyDecay({});
  EXPECT_FLOAT_EQ(s->Rate(8000), 40.0f);
  EXPECT_FLOAT_EQ(s->Rate(9000), 40.0f);
  EXPECT_FLOAT_EQ(s->Rate(10000), 40.0f);  // decay starts strictly after decay_start_steps
}

TEST(WarmUpAndPolyDecay, DecaysPolynomiallyThenHitsTheFloors) {
  auto s = MakeWarmUpAndPolyDecay({});
  EXPECT_FLOAT_EQ(s->Rate(10001), 40.0f * (11999.0f / 12000.0f) * (11999.0f / 12000.0f));
  EXPECT_FLOAT_EQ(s->Rate(13000), 22.5f);          // 40 * (9000 / 12000)^2
  EXPECT_FLOAT_EQ(s->Rate(16000), 10.0f);          // 40 * (6000 / 12000)^2
  EXPECT_NEAR(s->Rate(21000), 0.2777778f, 1e-6f);  // 40 * (1000 / 12000)^2
  EXPECT_FLOAT_EQ(s->Rate(21999), 0.01f);          // 2.8e-7 -> 1e-4 -> 0.01
  EXPECT_FLOAT_EQ(s->Rate(22000), 0.01f);          // fully decayed: 0 -> 1e-4 -> 0.01
  EXPECT_FLOAT_EQ(s->Rate(1000000), 0.01f);        // stays there
}

TEST(WarmUpAndPolyDecay, ScalesByBatchSizeOver2048) {
  WarmUpAndPolyDecayOptions o;
  o.batch_size = 1024;
  auto half = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(half->Rate(4000), 10.0f);
  EXPECT_FLOAT_EQ(half->Rate(9000), 20.0f);
  EXPECT_FLOAT_EQ(half->Rate(13000), 11.25f);
  o.batch_size = 65536;
  auto big = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(big->Rate(9000), 1280.0f);
}

TEST(WarmUpAndPolyDecay, FloorsSmallLearningRatesAtOneHundredth) {
  WarmUpAndPolyDecayOptions o;
  o.learning_rate = 0.005;
  auto s = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(s->Rate(4000), 0.01f);
  EXPECT_FLOAT_EQ(s->Rate(9000), 0.01f);
  EXPECT_FLOAT_EQ(s->Rate(13000), 0.01f);
}

TEST(WarmUpAndPolyDecay, WithoutWarmUpReturnsTheScaledRateWithNoDecayOrFloor) {
  WarmUpAndPolyDecayOptions o;
  o.warmup_steps = 0;
  o.learning_rate = 0.001;
  o.batch_size = 4096;
  auto s = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(s->Rate(0), 0.002f);
  EXPECT_FLOAT_EQ(s->Rate(13000), 0.002f);
  EXPECT_FLOAT_EQ(s->Rate(50000), 0.002f);
}

TEST(WarmUpAndPolyDecay, WithoutDecayStepsStaysAtThePeak) {
  WarmUpAndPolyDecayOptions o;
  o.decay_steps = 0;
  auto s = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(s->Rate(10001), 40.0f);
  EXPECT_FLOAT_EQ(s->Rate(1000000), 40.0f);
}

TEST(WarmUpAndPolyDecay, WarmUpTakesPrecedenceOverAnEarlierDecayStart) {
  WarmUpAndPolyDecayOptions o;
  o.decay_start_steps = 5000;
  o.decay_exp = 1;
  auto s = MakeWarmUpAndPolyDecay(o);
  EXPECT_FLOAT_EQ(s->Rate(6000), 30.0f);                 // still warming up
  EXPECT_FLOAT_EQ(s->Rate(8000), 40.0f * 9000 / 12000);  // decaying for 3000 steps, linearly
  EXPECT_FLOAT_EQ(s->Rate(11000), 20.0f);
}

TEST(WarmUpAndPolyDecay, DescribesItsOptions) {
  EXPECT_EQ(MakeWarmUpAndPolyDecay({})->Describe(),
            "warmup_poly_decay(learning_rate=40, batch_size=2048, warmup_steps=8000, "
            "decay_start_steps=10000, decay_steps=12000, decay_exp=2)");
}

TEST(WarmUpAndPolyDecay, RejectsInvalidOptions) {
  WarmUpAndPolyDecayOptions o;
  o.batch_size = 0;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
  o = {};
  o.warmup_steps = -1;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
  o = {};
  o.decay_steps = -1;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
  o = {};
  o.decay_start_steps = -1;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
  o = {};
  o.learning_rate = -1;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
  o = {};
  o.decay_exp = -1;
  EXPECT_THROW(MakeWarmUpAndPolyDecay(o), InvalidArgument);
}

}  // namespace
}  // namespace crank
