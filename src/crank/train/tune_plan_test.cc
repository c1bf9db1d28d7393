#include "crank/train/tune_plan.h"

#include <gtest/gtest.h>

#include <vector>

#include "crank/train/tune.h"

namespace crank {
namespace {

// ---------------------------------------------------------------------------------------------
// Schedule arithmetic.

TuneOptions OneEpochOptions() {
  TuneOptions o;
  o.eta = 3;
  o.max_halvings = 2;
  o.min_rung_rows = 1000;
  o.space.epochs = {1};  // mean epochs 1: the estimates below are by hand
  return o;
}

TrialCost Cost(double train_seconds, double other_seconds, int64_t rows) {
  TrialCost c;
  c.train_seconds = train_seconds;
  c.other_seconds = other_seconds;
  c.epochs = 1;
  c.rows = rows;
  return c;
}

TEST(TunePlan, BracketCostIsTheSumOfItsRungs) {
  const TuneOptions o = OneEpochOptions();
  // 9 @ 1/9: 9 * (1 + 1); 3 @ 1/3: 3 * (3 + 1); 1 @ 1: 1 * (9 + 1).
  const Bracket b = {{9, 1.0 / 9}, {3, 1.0 / 3}, {1, 1.0}};
  EXPECT_DOUBLE_EQ(EstimateBracket(o, Cost(9, 1, 1'000'000), b), 18 + 12 + 10);
}

TEST(TunePlan, TakesTheMostConfigurationsThatFitAndHalvesThem) {
  const TuneOptions o = OneEpochOptions();
  // n0 = 12: 12 * 2 + 4 * 4 + 1 * 10 = 50; n0 = 13 costs 52.
  const std::vector<Bracket> plan = PlanBrackets(o, Cost(9, 1, 1'000'000), 50);
  ASSERT_EQ(plan.size(), 1u);
  ASSERT_EQ(plan[0].size(), 3u);
  EXPECT_EQ(plan[0][0].configs, 12);
  EXPECT_EQ(plan[0][1].configs, 4);
  EXPECT_EQ(plan[0][2].configs, 1);
  EXPECT_DOUBLE_EQ(plan[0][0].fraction, 1.0 / 9);
  EXPECT_DOUBLE_EQ(plan[0][1].fraction, 1.0 / 3);
  EXPECT_DOUBLE_EQ(plan[0][2].fraction, 1.0);
}

TEST(TunePlan, AddsBracketsWhileTheyFit) {
  TuneOptions o = OneEpochOptions();
  o.max_configs_per_bracket = 9;
  // 60 s: the 9-3-1 bracket (40 s); of the 20 s left, a 3-1 bracket needs 3 * 4 + 10 = 22 s,
  // so two full-data trials (2 * 10 s) follow as a bracket of their own.
  const std::vector<Bracket> plan = PlanBrackets(o, Cost(9, 1, 1'000'000), 60);
  ASSERT_EQ(plan.size(), 2u);
  EXPECT_EQ(plan[0].size(), 3u);
  EXPECT_EQ(plan[0][0].configs, 9);
  ASSERT_EQ(plan[1].size(), 1u);
  EXPECT_EQ(plan[1][0].configs, 2);
  EXPECT_DOUBLE_EQ(plan[1][0].fraction, 1.0);
}

TEST(TunePlan, SmallestRungKeepsMinRungRows) {
  TuneOptions o = OneEpochOptions();
  o.min_rung_rows = 5000;
  // 12000 rows: 1/9 is 1333 rows, 1/3 is 4000 rows: only the full-data rung remains.
  const std::vector<Bracket> plan = PlanBrackets(o, Cost(9, 1, 12000), 50);
  ASSERT_FALSE(plan.empty());
  for (const Bracket& b : plan) {
    ASSERT_EQ(b.size(), 1u);
    EXPECT_DOUBLE_EQ(b[0].fraction, 1.0);
  }
  // 5 full trials of 10 s fit in 50 s.
  EXPECT_EQ(plan[0][0].configs, 5);
}

TEST(TunePlan, NothingWhenOneFullTrialDoesNotFit) {
  EXPECT_TRUE(PlanBrackets(OneEpochOptions(), Cost(9, 1, 1'000'000), 9.5).empty());
}

TEST(TuneCost, StepWorkGrowsWithTheModel) {
  JobConfig dot;  // the defaults: dimension 16, dot
  JobConfig low_rank = dot;
  TrialParams p = ParamsOf(dot);
  p.embedding_dim = 32;
  p.interaction = Interaction::kCross;
  p.cross_layers = 3;
  p.cross_projection_dim = 32;
  ApplyParams(p, &low_rank);
  JobConfig full_rank = low_rank;
  full_rank.model.cross_projection_dim = 0;
  JobConfig one_layer = low_rank;
  one_layer.model.cross_layers = 1;
  EXPECT_GT(StepWork(dot), 0);
  EXPECT_LT(StepWork(dot), StepWork(low_rank));
  EXPECT_LT(StepWork(one_layer), StepWork(low_rank));
  EXPECT_LT(StepWork(low_rank), StepWork(full_rank));
  // 26 fields and the bottom output, 32 columns: a full-rank layer is 864 x 864 multiply-adds.
  EXPECT_DOUBLE_EQ(StepWork(full_rank) - StepWork(low_rank), 3.0 * (864.0 * 864 - 2 * 864 * 32));
}

TEST(TuneCost, TrialEstimatesUseTheMeasuredStepTimeElseTheScaledBase) {
  TrialCost cost = Cost(10, 1, 51'200);  // 100 steps of 512 rows: 0.1 s a step
  cost.work = 1000;
  // Unmeasured: trial 0's step time scaled by the work, plus one set-up and evaluation each.
  EXPECT_DOUBLE_EQ(EstimateTrial(cost, 100, 50, 1, 1000, 0), 50 * 0.1 + 1);
  EXPECT_DOUBLE_EQ(EstimateTrial(cost, 100, 300, 3, 2000, 0), 300 * 0.2 + 3);
  // Measured on an earlier trial of the configuration: that step time.
  EXPECT_DOUBLE_EQ(EstimateTrial(cost, 100, 300, 3, 2000, 0.05), 300 * 0.05 + 3);
  // Unknown work: the base's step time.
  cost.work = 0;
  EXPECT_DOUBLE_EQ(EstimateTrial(cost, 100, 50, 1, 2000, 0), 50 * 0.1 + 1);
}

TEST(TuneCost, AStepIsEstimatedFromItsParentsRunAndTheEpochsThePatienceLeft) {
  // The parent: 3 epochs configured, stopped after 2: 200 steps of 0.05 s, 4 s of set-up and
  // evaluations (2 s per epoch).
  MeasuredRun run;
  run.seconds = 14;
  run.train_seconds = 10;
  run.steps = 200;
  run.epochs_completed = 2;
  run.epochs = 3;
  run.work = 1000;
  // The same model and epochs: the parent's own time.
  EXPECT_DOUBLE_EQ(EstimateFromRun(run, 100, 3, 1000), 14);
  // Fewer epochs than the parent trained: those; a model twice the work: twice the step time.
  EXPECT_DOUBLE_EQ(EstimateFromRun(run, 100, 1, 1000), 100 * 0.05 + 2);
  EXPECT_DOUBLE_EQ(EstimateFromRun(run, 100, 3, 2000), 200 * 0.1 + 4);
  // A parent that trained all its epochs says nothing of a later stop: the step's epochs.
  run.epochs = 2;
  EXPECT_DOUBLE_EQ(EstimateFromRun(run, 100, 3, 1000), 300 * 0.05 + 6);
  // Unknown work: the parent's step time.
  run.work = 0;
  EXPECT_DOUBLE_EQ(EstimateFromRun(run, 100, 2, 2000), 14);
}

}  // namespace
}  // namespace crank
