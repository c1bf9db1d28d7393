#include "crank/optim/factory.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crank/base/error.h"

namespace crank {
namespace {

template <typename Fn>
void ExpectConfigErrorWith(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected a ConfigError mentioning '" << needle << "'";
  } catch (const ConfigError& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(MakeOptimizer, BuildsEveryKind) {
  OptimizerConfig c;
  c.learning_rate = 0.05f;
  EXPECT_EQ(MakeOptimizer(c)->Describe(),
            "adagrad(lr=0.05, initial_accumulator=0.1, epsilon=1e-07)");
  c.kind = "sgd";
  c.momentum = 0.9f;
  c.nesterov = true;
  EXPECT_EQ(MakeOptimizer(c)->Describe(), "sgd(lr=0.05, momentum=0.9, nesterov=true)");
  c.kind = "rowwise_adagrad";
  c.epsilon = 1e-8f;
  c.initial_accumulator_value = 0.0f;
  EXPECT_EQ(MakeOptimizer(c)->Describe(),
            "rowwise_adagrad(lr=0.05, initial_accumulator=0, epsilon=1e-08)");
  c.kind = "adam";
  c.beta_1 = 0.8f;
  EXPECT_EQ(MakeOptimizer(c)->Describe(), "adam(lr=0.05, beta_1=0.8, beta_2=0.999, epsilon=1e-08)");
}

TEST(MakeOptimizer, UsesLearningRateAsThePeakOfTheWarmUpSchedule) {
  OptimizerConfig c;
  c.kind = "sgd";
  c.learning_rate = 0.5f;
  c.schedule = "warmup_poly_decay";
  c.warmup.warmup_steps = 2;
  c.warmup.decay_start_steps = 100;
  auto schedule = MakeSchedule(c);
  EXPECT_FLOAT_EQ(schedule->Rate(0), 0.01f);  // floor
  EXPECT_FLOAT_EQ(schedule->Rate(1), 0.25f);
  EXPECT_FLOAT_EQ(schedule->Rate(2), 0.5f);

  auto opt = MakeOptimizer(c);
  Variable w;
  w.name = "w";
  w.value = Tensor({1}, {1.0f});
  w.grad = Tensor({1}, {1.0f});
  for (int i = 0; i < 3; ++i) opt->Apply({&w});
  EXPECT_NEAR(w.value[0], 1.0f - 0.01f - 0.25f - 0.5f, 1e-6f);
}

TEST(MakeOptimizer, RejectsUnknownKindsAndSchedules) {
  OptimizerConfig c;
  c.kind = "rmsprop";
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "'rmsprop'");
  c = {};
  c.schedule = "cosine";
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "'cosine'");
}

TEST(MakeOptimizer, RejectsOutOfRangeValuesNamingTheField) {
  OptimizerConfig c;
  c.learning_rate = 0.0f;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.learning_rate");
  c = {};
  c.kind = "sgd";
  c.momentum = 1.0f;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.momentum");
  c = {};
  c.kind = "sgd";
  c.nesterov = true;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.nesterov");
  c = {};
  c.kind = "adam";
  c.beta_2 = 1.5f;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.beta_2");
  c = {};
  c.epsilon = -1.0f;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.epsilon");
  c = {};
  c.initial_accumulator_value = -0.1f;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.initial_accumulator_value");
  c = {};
  c.schedule = "warmup_poly_decay";
  c.warmup.batch_size = 0;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.warmup.batch_size");
  c.warmup = {};
  c.warmup.decay_steps = -5;
  ExpectConfigErrorWith([&] { MakeOptimizer(c); }, "optimizer.warmup.decay_steps");
}

TEST(OptimizerConfig, DefaultsAreValid) {
  EXPECT_NO_THROW(OptimizerConfig{}.Validate());
  EXPECT_EQ(OptimizerConfig{}.kind, "adagrad");
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

TEST(OptimizerStateFloats, EachKindCountsItsOwnState) {
  OptimizerConfig c;
  c.kind = "adagrad";
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 16000);
  c.kind = "rowwise_adagrad";
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 1000);
  c.kind = "adam";
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 32000);
  c.kind = "sgd";
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 0);
  c.momentum = 0.9f;
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 16000);
  c.kind = "lamb";
  EXPECT_EQ(OptimizerStateFloats(c, 1000, 16), 0);
}

}  // namespace
}  // namespace crank
