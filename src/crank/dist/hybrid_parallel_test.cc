#include "crank/dist/hybrid_parallel.h"

#include <gtest/gtest.h>

#include <memory>

#include "crank/dist/dist_test_util.h"
#include "crank/dist/distributed_embedding.h"
#include "crank/dist/process_group.h"
#include "synthetic_batches.h"

namespace crank {
namespace {

TEST(SliceRange, ContiguousSlicesCoverTheBatchInRankOrder) {
  for (int64_t b : {1, 2, 3, 7, 128}) {
    for (int n : {1, 2, 3, 4, 9}) {
      int64_t next = 0;
      for (int r = 0; r < n; ++r) {
        const auto [begin, end] = SliceRange(b, r, n);
        EXPECT_EQ(begin, next);
        EXPECT_GE(end - begin, b / n);
        EXPECT_LE(end - begin, b / n + 1);
        next = end;
      }
      EXPECT_EQ(next, b);
    }
  }
}

TEST(SliceBatch, TakesTheRowsOfEveryField) {
  testing::SyntheticProblem p;
  p.max_bag = 3;
  const Batch g = p.MakeBatch(10, 0);
  Batch s;
  SliceBatch(g, 3, 7, &s);
  ASSERT_EQ(s.size(), 4);
  for (int64_t i = 0; i < 4; ++i) {
    EXPECT_EQ(s.labels[i], g.labels[i + 3]);
    for (int64_t d = 0; d < p.dense; ++d) EXPECT_EQ(s.dense.at(i, d), g.dense.at(i + 3, d));
    for (size_t f = 0; f < g.sparse.size(); ++f) {
      const auto& gf = g.sparse[f];
      const auto& sf = s.sparse[f];
      ASSERT_EQ(sf.offsets[i + 1] - sf.offsets[i], gf.offsets[i + 4] - gf.offsets[i + 3]);
      for (int64_t k = 0; k < sf.offsets[i + 1] - sf.offsets[i]; ++k) {
        EXPECT_EQ(sf.ids[sf.offsets[i] + k], gf.ids[gf.offsets[i + 3] + k]);
      }
    }
  }
  SliceBatch(g, 5, 5, &s);  // an empty slice
  EXPECT_EQ(s.size(), 0);
  EXPECT_EQ(s.sparse[0].offsets.size(), 1u);
}

TEST(AllReduceSum, OneProcessKeepsTheValues) {
  LocalProcessGroup g;
  std::vector<float> x = {1.5f, -2.0f, 3.25f};
  AllReduceSum(g, x.data(), 3);
  EXPECT_EQ(x, (std::vector<float>{1.5f, -2.0f, 3.25f}));
}

using dist_test::MakeOptimizerFor;
using dist_test::Values;

void ExpectSameVariables(Ranking& a, Ranking& b) {
  const auto va = a.TrainableVariables(), vb = b.TrainableVariables();
  ASSERT_EQ(va.size(), vb.size());
  for (size_t i = 0; i < va.size(); ++i) {
    EXPECT_EQ(va[i]->name, vb[i]->name);
    EXPECT_EQ(va[i]->precision, vb[i]->precision) << va[i]->name;
    ASSERT_EQ(va[i]->shape(), vb[i]->shape()) << va[i]->name;
    EXPECT_EQ(Values(*va[i]), Values(*vb[i])) << va[i]->name;
  }
}

// On one process the hybrid-parallel step is the ordinary step, bit for bit: same draws at
// initialisation, same pooling, gradients scaled by 1, the all-reduce a copy. With 16-bit
// tables too: the same initial rounding, rounding seeds and stochastic rounding of the updates.
class HybridParallelOneRank : public ::testing::TestWithParam<EmbeddingPrecision> {};

TEST_P(HybridParallelOneRank, MatchesTheSingleProcessStepBitForBit) {
  testing::SyntheticProblem p;
  p.max_bag = 3;
  RankingConfig config = p.Config();
  for (TableConfig& t : config.tables) t.precision = GetParam();
  config.embedding_l2 = 1e-3f;
  config.embedding_l2_catch_up = 20;  // its per-row state is gathered and scattered too
  config.dense_l2 = 1e-3f;
  LocalProcessGroup group;
  std::vector<TableLoad> loads;
  for (const TableConfig& t : config.tables) loads.push_back({t.name, t.vocabulary_size, 32, 1});
  auto emb = std::make_unique<DistributedEmbedding>(config.tables, config.features,
                                                    PlanPlacement(loads, {1, 0, {}}), &group);
  DistributedEmbedding* emb_ptr = emb.get();
  Ranking dist(config, std::move(emb));
  Ranking single(config);
  ExpectSameVariables(dist, single);
  dist.SetOptimizer(MakeOptimizerFor(dist));
  single.SetOptimizer(MakeOptimizerFor(single));
  HybridParallel hp(&dist, emb_ptr);
  for (uint64_t step = 0; step < 5; ++step) {
    const Batch b = p.MakeBatch(16, step);
    const StepResult r = hp.TrainStep(b);
    const StepResult s = single.TrainStep(b);
    EXPECT_EQ(r.loss, s.loss) << step;
    EXPECT_DOUBLE_EQ(r.regularization_loss, s.regularization_loss) << step;
  }
  ExpectSameVariables(dist, single);
  // Evaluation merges to the single model's metrics.
  single.ResetMetrics();
  for (uint64_t i = 0; i < 3; ++i) {
    hp.TestStep(p.MakeBatch(20, 100 + i));
    single.TestStep(p.MakeBatch(20, 100 + i));
  }
  const auto merged = hp.MergedMetrics();
  for (const auto& [k, v] : single.Metrics()) EXPECT_EQ(merged.at(k), v) << k;

  // Gathered into a fresh full model and optimizer: the same variables and state.
  Ranking full(config);
  auto full_opt = MakeOptimizerFor(full);
  hp.GatherTo(&full, full_opt.get());
  ExpectSameVariables(full, single);
  EXPECT_EQ(full_opt->iterations(), 5);
  const auto state = full_opt->StateTensors(), expected = single.optimizer()->StateTensors();
  ASSERT_EQ(state.size(), expected.size());
  int catch_up_states = 0;
  for (const auto& [name, t] : state) catch_up_states += name.ends_with("/l2_steps") ? 1 : 0;
  EXPECT_EQ(catch_up_states, static_cast<int>(config.tables.size()));
  for (size_t i = 0; i < state.size(); ++i) {
    EXPECT_EQ(state[i].first, expected[i].first);
    EXPECT_EQ(state[i].second->ToVector(), expected[i].second->ToVector()) << state[i].first;
  }
  // And scattered back into another distributed model: one more step matches again.
  auto emb2 = std::make_unique<DistributedEmbedding>(config.tables, config.features,
                                                     PlanPlacement(loads, {1, 0, {}}), &group);
  DistributedEmbedding* emb2_ptr = emb2.get();
  RankingConfig other = config;
  // Different initial weights, replaced by the scatter. The stochastic rounding of a 16-bit
  // table is keyed by a seed drawn from the model's seed, which a resumed run keeps: so does
  // this one then.
  if (GetParam() == EmbeddingPrecision::kFp32) other.seed = 99;
  Ranking resumed(other, std::move(emb2));
  resumed.SetOptimizer(MakeOptimizerFor(resumed));
  HybridParallel hp2(&resumed, emb2_ptr);
  hp2.ScatterFrom(full, full_opt.get());
  const Batch b = p.MakeBatch(16, 50);
  EXPECT_EQ(hp2.TrainStep(b).loss, single.TrainStep(b).loss);
  ExpectSameVariables(resumed, single);
}

INSTANTIATE_TEST_SUITE_P(HybridParallel, HybridParallelOneRank,
                         ::testing::Values(EmbeddingPrecision::kFp32, EmbeddingPrecision::kBf16,
                                           EmbeddingPrecision::kFp16),
                         [](const auto& info) {
                           return std::string(EmbeddingPrecisionName(info.param));
                         });

}  // namespace
}  // namespace crank
