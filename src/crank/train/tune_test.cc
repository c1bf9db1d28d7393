#include "crank/train/tune.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "crank/base/error.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/train/trainer.h"
#include "crank/train/tune_portfolio.h"
#include "crank/train/tune_refine.h"
#include "crank/train/tune_table.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

// ---------------------------------------------------------------------------------------------
// Sampling.

TEST(TuneSample, SameSeedAndIndexGiveTheSameConfiguration) {
  const JobConfig base;
  const TuneSpace space;
  std::set<std::string> seen;
  for (int64_t k = 1; k <= 20; ++k) {
    const TrialParams a = SampleParams(space, base, 7, k);
    const TrialParams b = SampleParams(space, base, 7, k);
    EXPECT_EQ(a.Describe(), b.Describe());
    seen.insert(a.Describe());
  }
  EXPECT_GT(seen.size(), 15u);  // configurations differ from one index to the next
  int differing = 0;
  for (int64_t k = 1; k <= 20; ++k) {
    differing +=
        SampleParams(space, base, 7, k).Describe() != SampleParams(space, base, 8, k).Describe();
  }
  EXPECT_GT(differing, 15);
}

TEST(TuneSample, DrawsStayInTheSpace) {
  const JobConfig base;  // Criteo, hashed: buckets are tuned, or vocabularies with a min_count
  TuneSpace space;
  space.max_embedding_params = 26 * 100'000 * 16;
  int64_t hashed = 0, vocabularies = 0;
  for (int64_t k = 1; k <= 200; ++k) {
    const TrialParams p = SampleParams(space, base, 3, k);
    EXPECT_GE(p.embedding_learning_rate, space.embedding_lr_min * 0.999);
    EXPECT_LE(p.embedding_learning_rate, space.embedding_lr_max * 1.001);
    EXPECT_GE(p.dense_learning_rate, space.dense_lr_min * 0.999);
    EXPECT_LE(p.dense_learning_rate, space.dense_lr_max * 1.001);
    EXPECT_TRUE(p.embedding_l2 == 0 ||
                (p.embedding_l2 >= space.l2_min * 0.999 && p.embedding_l2 <= space.l2_max * 1.001));
    EXPECT_LE(26 * p.hash_buckets * p.embedding_dim, space.max_embedding_params) << p.Describe();
    // Exactly one encoding: hash buckets, or a min_count of the space.
    EXPECT_NE(p.hash_buckets > 0, p.min_count > 0) << p.Describe();
    if (p.min_count > 0) {
      EXPECT_TRUE(std::count(space.min_counts.begin(), space.min_counts.end(), p.min_count));
      ++vocabularies;
    } else {
      ++hashed;
    }
    EXPECT_GE(p.epochs, 1);
    EXPECT_LE(p.epochs, 3);
  }
  // vocabulary_probability 0.5: both encodings are drawn often.
  EXPECT_GT(hashed, 60);
  EXPECT_GT(vocabularies, 60);
}

TEST(TuneSample, HashedCriteoDrawsVocabulariesThatApplyToEveryField) {
  const JobConfig base;
  int64_t seen = 0;
  for (int64_t k = 1; k <= 40; ++k) {
    const TrialParams p = SampleParams(TuneSpace(), base, 5, k);
    if (p.min_count == 0) continue;
    ++seen;
    JobConfig c = base;
    ApplyParams(p, &c);
    EXPECT_EQ(c.data.criteo.encoding.kind, Encoding::Kind::kVocabulary);
    EXPECT_EQ(c.data.criteo.encoding.vocabulary.min_count, p.min_count);
    EXPECT_TRUE(c.data.criteo.fields.empty());
  }
  EXPECT_GT(seen, 0);
  // With per-field encodings, or with the probability 0, hashed data stays hashed.
  JobConfig per_field = base;
  per_field.data.criteo.fields["C3"].hash_buckets = 50;
  TuneSpace never;
  never.vocabulary_probability = 0.0;
  for (int64_t k = 1; k <= 40; ++k) {
    EXPECT_EQ(SampleParams(TuneSpace(), per_field, 5, k).min_count, 0);
    EXPECT_EQ(SampleParams(never, base, 5, k).min_count, 0);
  }
}

TEST(TuneSample, VocabularyDataTunesMinCountNotBuckets) {
  JobConfig base;
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 10;
  EXPECT_EQ(ParamsOf(base).min_count, 10);
  EXPECT_EQ(ParamsOf(base).hash_buckets, 0);
  std::set<int64_t> counts;
  for (int64_t k = 1; k <= 40; ++k) {
    const TrialParams p = SampleParams(TuneSpace(), base, 1, k);
    EXPECT_EQ(p.hash_buckets, 0);
    counts.insert(p.min_count);
  }
  EXPECT_EQ(counts, (std::set<int64_t>{1, 2, 5, 10}));
}

TEST(TuneSample, AppliedParamsReadBackAndSurviveTheYamlRoundTrip) {
  const JobConfig base;
  for (int64_t k = 1; k <= 30; ++k) {
    const TrialParams p = SampleParams(TuneSpace(), base, 11, k);
    JobConfig c = base;
    ApplyParams(p, &c);
    c.Validate();  // the dot interaction's bottom width follows the embedding dimension
    EXPECT_EQ(ParamsOf(c).Describe(), p.Describe());
    const JobConfig back = JobConfig::FromYamlString(c.ToYaml(), "best.yaml");
    EXPECT_EQ(back.ToYaml(), c.ToYaml());
    EXPECT_EQ(ParamsOf(back).Describe(), p.Describe());
  }
}

TEST(TuneSpaceGrowth, LargeDataAddsTheLargerDimensionMinCountAndCatchUp) {
  const TuneSpace space;
  EXPECT_EQ(space.large_data_rows, 500'000);
  const TuneSpace small = GrownSpace(space, 499'999);
  EXPECT_EQ(small.embedding_dims, space.embedding_dims);
  EXPECT_EQ(small.min_counts, space.min_counts);
  EXPECT_EQ(small.l2_catch_ups, (std::vector<int64_t>{0}));
  const TuneSpace large = GrownSpace(space, 500'000);
  EXPECT_EQ(large.embedding_dims, (std::vector<int64_t>{8, 16, 32, 64}));
  EXPECT_EQ(large.min_counts, (std::vector<int64_t>{1, 2, 5, 10, 20}));
  EXPECT_EQ(large.l2_catch_ups, (std::vector<int64_t>{0, 100}));
  EXPECT_EQ(DescribeGrownLists(large),
            "embedding dims 8,16,32,64; min counts 1,2,5,10,20; l2 catch-ups 0,100");
  // The other lists and ranges stay.
  EXPECT_EQ(large.hash_buckets, space.hash_buckets);
  EXPECT_EQ(large.epochs, space.epochs);
  EXPECT_EQ(large.embedding_lr_max, space.embedding_lr_max);
  // Merged sorted and without repeats into a list the user gave.
  TuneSpace given;
  given.embedding_dims = {128, 8, 64};
  given.large_data_min_counts.clear();  // a given min_count list does not grow
  const TuneSpace merged = GrownSpace(given, 2'000'000);
  EXPECT_EQ(merged.embedding_dims, (std::vector<int64_t>{8, 64, 128}));
  EXPECT_EQ(merged.min_counts, given.min_counts);
  // large_data_rows 0: never.
  TuneSpace never;
  never.large_data_rows = 0;
  EXPECT_EQ(GrownSpace(never, 10'000'000).embedding_dims, never.embedding_dims);
}

TEST(TuneSpaceGrowth, DrawsOfTheGrownSpaceReachItsNewValues) {
  JobConfig base;
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 10;
  const TuneSpace large = GrownSpace(TuneSpace(), 1'000'000);
  std::set<int64_t> dims, counts;
  for (int64_t k = 1; k <= 60; ++k) {
    const TrialParams p = SampleParams(large, base, 2, k);
    dims.insert(p.embedding_dim);
    counts.insert(p.min_count);
    JobConfig c = base;
    ApplyParams(p, &c);
    c.Validate();
  }
  EXPECT_EQ(dims, (std::set<int64_t>{8, 16, 32, 64}));
  EXPECT_EQ(counts, (std::set<int64_t>{1, 2, 5, 10, 20}));
  // The refinement steps to them from the old edge.
  TrialParams edge = SampleParams(large, base, 2, 1);
  edge.embedding_dim = 32;
  edge.min_count = 10;
  bool to64 = false, to20 = false;
  for (const TrialParams& q : Neighbours(large, base, edge)) {
    to64 |= q.embedding_dim == 64;
    to20 |= q.min_count == 20;
  }
  EXPECT_TRUE(to64);
  EXPECT_TRUE(to20);
  for (const TrialParams& q : Neighbours(TuneSpace(), base, edge)) {
    EXPECT_NE(q.embedding_dim, 64);
    EXPECT_NE(q.min_count, 20);
  }
}

// Catch-up is drawn last and only from the grown list: a draw of the grown space is the draw of
// the space without it plus its catch-up, which is 0 without L2 and both values with it.
TEST(TuneSpaceGrowth, CatchUpIsDrawnLastAndOnlyWithL2) {
  JobConfig base;
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 10;
  const TuneSpace large = GrownSpace(TuneSpace(), 1'000'000);
  TuneSpace without = large;
  without.l2_catch_ups = {0};
  std::set<int64_t> with_l2;
  int without_l2 = 0;
  for (int64_t k = 1; k <= 60; ++k) {
    TrialParams p = SampleParams(large, base, 4, k);
    const TrialParams q = SampleParams(without, base, 4, k);
    EXPECT_EQ(q.l2_catch_up, 0);
    if (p.embedding_l2 == 0.0) {
      EXPECT_EQ(p.l2_catch_up, 0) << p.Describe();
      ++without_l2;
    } else {
      with_l2.insert(p.l2_catch_up);
    }
    JobConfig c = base;
    ApplyParams(p, &c);
    EXPECT_EQ(c.model.embedding_l2_catch_up, p.l2_catch_up);
    EXPECT_EQ(ParamsOf(c).Describe(), p.Describe());
    p.l2_catch_up = 0;
    EXPECT_EQ(p.Describe(), q.Describe()) << "draw " << k;
  }
  EXPECT_EQ(with_l2, (std::set<int64_t>{0, 100}));
  EXPECT_GT(without_l2, 0);
}

// ---------------------------------------------------------------------------------------------
// The search loop with a simulated trainer and clock.

// A trainer that takes 0.01 s of the simulated clock per step, calls the stop hook after each
// step, and scores configurations by how close their embedding learning rate is to 0.1, plus
// more for more steps.
struct FakeWorld {
  double now = 0;
  int64_t rows = 20000;
  int64_t calls = 0;
  bool interrupt_at_call_3 = false;
  // Steps of larger models take longer: 0.01 s x StepWork relative to the default model's.
  bool work_scaled = false;
  // > 0: a full-data trial with a patience trains at most this many epochs (its later epochs
  // would not improve, as on data that overfits after epoch 1).
  int64_t patience_epochs = 0;
  TuneEnv Env(std::vector<std::string>* seen = nullptr) {
    TuneEnv env;
    env.now_seconds = [this] { return now; };
    env.interrupted = [this] { return interrupt_at_call_3 && calls >= 3; };
    env.runner = [this, seen](const JobConfig& c, TrainHook* hook) {
      ++calls;
      TrialOutcome o;
      const int64_t per_epoch = (rows + c.train.batch_size - 1) / c.train.batch_size;
      int64_t epochs = c.train.epochs;
      if (patience_epochs > 0 && c.train.early_stopping_patience > 0)
        epochs = std::min(epochs, patience_epochs);
      const int64_t steps = c.train.max_steps > 0 ? c.train.max_steps : epochs * per_epoch;
      now += 0.5;  // setup and evaluation
      const double step = work_scaled ? 0.01 * StepWork(c) / StepWork(JobConfig()) : 0.01;
      for (int64_t s = 1; s <= steps; ++s) {
        now += step;
        o.rows += c.train.batch_size;
        o.train_seconds += step;
        if (hook->OnStepEnd(StepEndInfo{}) == HookAction::kStop) {
          o.stopped = true;
          return o;
        }
      }
      o.epochs_completed = c.train.max_steps > 0 ? steps / per_epoch : epochs;
      const double closeness = std::abs(std::log10(c.embedding_optimizer.learning_rate / 0.1));
      o.metrics["auc"] = 0.8 - 0.05 * closeness - 0.1 / static_cast<double>(steps);
      if (seen) seen->push_back(ParamsOf(c).Describe() + " steps=" + std::to_string(steps));
      return o;
    };
    return env;
  }
};

JobConfig FakeBase() {
  JobConfig c;
  c.data.train_files = {"train.tsv"};
  c.data.eval_files = {"eval.tsv"};
  c.train.batch_size = 100;  // 200 steps per epoch of the fake's 20000 rows
  return c;
}

TuneOptions FakeOptions(double budget) {
  TuneOptions o;
  o.budget_seconds = budget;
  o.seed = 5;
  o.min_rung_rows = 2000;
  return o;
}

TEST(Tune, RunsTrialZeroThenHalvingRungsAndPicksTheBestFullDataTrial) {
  FakeWorld world;
  const TuneResult r = Tune(FakeBase(), FakeOptions(60), world.Env());
  ASSERT_GT(r.trials.size(), 5u);
  EXPECT_EQ(r.trials[0].config, 0);
  EXPECT_EQ(r.trials[0].fraction, 1.0);
  EXPECT_EQ(r.trials[0].rows, 20000);
  EXPECT_EQ(r.cost.rows, 20000);
  // Rung 1 of bracket 1 trains the survivors of rung 0: fewer configurations, each one of them.
  std::set<int64_t> rung0, rung1;
  for (const TrialRecord& t : r.trials) {
    if (t.bracket == 1 && t.rung == 0) rung0.insert(t.config);
    if (t.bracket == 1 && t.rung == 1) rung1.insert(t.config);
  }
  ASSERT_FALSE(rung1.empty());
  EXPECT_LT(rung1.size(), rung0.size());
  for (int64_t c : rung1) EXPECT_TRUE(rung0.count(c)) << c;
  // The best trial is a completed full-data trial with the highest AUC of those.
  ASSERT_GE(r.best_trial, 0);
  const TrialRecord& best = r.trials[r.best_trial];
  EXPECT_EQ(best.fraction, 1.0);
  for (const TrialRecord& t : r.trials) {
    if (t.fraction == 1.0 && t.status == "ok") EXPECT_LE(t.metric, best.metric);
  }
  EXPECT_EQ(ParamsOf(r.best_config).Describe(), best.params.Describe());
  EXPECT_EQ(r.best_config.train.max_steps, 0);
  EXPECT_EQ(r.best_config.train.eval_every, 0);
  EXPECT_EQ(r.best_config.train.early_stopping_patience, best.config == 0 ? 0 : 1);
}

TEST(Tune, TrialsButTrialZeroStopWhenAnEpochDoesNotImprove) {
  // The patience of each trial, in order, for a base with `base_patience`.
  auto patience = [](int64_t base_patience) {
    FakeWorld world;
    TuneEnv env = world.Env();
    std::vector<int64_t> seen;
    env.runner = [&seen, inner = env.runner](const JobConfig& c, TrainHook* hook) {
      seen.push_back(c.train.early_stopping_patience);
      return inner(c, hook);
    };
    JobConfig base = FakeBase();
    base.train.early_stopping_patience = base_patience;
    const TuneResult r = Tune(base, FakeOptions(30), env);
    EXPECT_EQ(seen.size(), r.trials.size());
    return seen;
  };
  const std::vector<int64_t> drawn = patience(0);
  ASSERT_GT(drawn.size(), 2u);
  EXPECT_EQ(drawn[0], 0);  // trial 0 is the base as crank train runs it
  for (size_t i = 1; i < drawn.size(); ++i) EXPECT_EQ(drawn[i], 1) << i;
  // A base that sets a patience keeps it everywhere.
  for (int64_t p : patience(3)) EXPECT_EQ(p, 3);
}

TEST(Tune, ThePortfolioRunsFirstForEverySeed) {
  const std::vector<TrialParams> portfolio = PortfolioParams(TuneSpace(), FakeBase());
  ASSERT_GE(portfolio.size(), 2u);
  std::vector<TuneResult> runs;
  for (uint64_t seed : {5, 6}) {
    FakeWorld world;
    TuneOptions o = FakeOptions(60);
    o.seed = seed;
    o.refine_share = 0.0;  // the brackets' whole budget: the first draw fits
    runs.push_back(Tune(FakeBase(), o, world.Env()));
    const TuneResult& r = runs.back();
    ASSERT_GT(r.trials.size(), portfolio.size() + 1);
    for (size_t i = 0; i < portfolio.size(); ++i) {
      const TrialRecord& t = r.trials[i + 1];  // after trial 0
      EXPECT_EQ(t.config, static_cast<int64_t>(i + 1));
      EXPECT_TRUE(t.portfolio);
      EXPECT_EQ(t.bracket, 1);
      EXPECT_EQ(t.rung, 0);
      EXPECT_LT(t.fraction, 1.0);
      EXPECT_EQ(t.params.Describe(), portfolio[i].Describe());
    }
    // Then the draws: configuration k is SampleParams(.., k).
    const TrialRecord& drawn = r.trials[portfolio.size() + 1];
    EXPECT_FALSE(drawn.portfolio);
    EXPECT_EQ(drawn.config, static_cast<int64_t>(portfolio.size() + 1));
    EXPECT_EQ(drawn.params.Describe(),
              SampleParams(o.space, FakeBase(), seed, drawn.config).Describe());
  }
  EXPECT_NE(runs[0].trials[portfolio.size() + 1].params.Describe(),
            runs[1].trials[portfolio.size() + 1].params.Describe());
  // Without the portfolio (the option off, or a space it does not fit) the draws start at 1.
  TuneOptions off = FakeOptions(60);
  off.portfolio = false;
  TuneOptions narrow = FakeOptions(60);
  narrow.space.embedding_dims = {8, 16};
  for (const TuneOptions& o : {off, narrow}) {
    FakeWorld world;
    const TuneResult r = Tune(FakeBase(), o, world.Env());
    ASSERT_GT(r.trials.size(), 1u);
    EXPECT_FALSE(r.trials[1].portfolio);
    EXPECT_EQ(r.trials[1].config, 1);
    EXPECT_EQ(r.trials[1].params.Describe(), SampleParams(o.space, FakeBase(), 5, 1).Describe());
  }
}

TEST(Tune, TheSpaceGrowsWithTheRowsOfTrialZero) {
  // The rows per epoch of trial 0 decide: 600k rows grow the space, 400k rows do not.
  auto search = [](int64_t rows) {
    FakeWorld world;
    world.rows = rows;
    JobConfig base = FakeBase();
    base.train.batch_size = 2000;  // 200-300 steps per epoch
    TuneOptions o = FakeOptions(200);
    o.min_rung_rows = 50'000;
    return Tune(base, o, world.Env());
  };
  const TuneResult large = search(600'000);
  EXPECT_TRUE(large.space_grew);
  EXPECT_EQ(large.space.embedding_dims, (std::vector<int64_t>{8, 16, 32, 64}));
  EXPECT_EQ(large.space.min_counts, (std::vector<int64_t>{1, 2, 5, 10, 20}));
  const std::vector<TrialParams> portfolio = PortfolioParams(large.space, FakeBase());
  EXPECT_GT(portfolio.size(), PortfolioParams(TuneSpace(), FakeBase()).size())
      << "the portfolio's large-data entry applies";
  int64_t reached = 0;
  for (const TrialRecord& t : large.trials) {
    if (t.config >= 1 && t.config <= static_cast<int64_t>(portfolio.size())) {
      EXPECT_TRUE(t.portfolio);
      EXPECT_EQ(t.params.Describe(), portfolio[t.config - 1].Describe());
    }
    if (t.config > static_cast<int64_t>(portfolio.size()) && t.parent < 0) {
      EXPECT_EQ(t.params.Describe(), SampleParams(large.space, FakeBase(), 5, t.config).Describe());
    }
    reached += t.params.embedding_dim == 64 || t.params.min_count == 20;
  }
  EXPECT_GT(reached, 0);
  const TuneResult small = search(400'000);
  EXPECT_FALSE(small.space_grew);
  EXPECT_EQ(small.space.embedding_dims, TuneSpace().embedding_dims);
  ASSERT_GT(small.trials.size(), 3u);
  for (const TrialRecord& t : small.trials) {
    EXPECT_NE(t.params.embedding_dim, 64) << t.id;
    EXPECT_NE(t.params.min_count, 20) << t.id;
  }
}

TEST(Tune, ADrawEqualToAPortfolioEntryIsNotRunAgain) {
  // On vocabulary data, draw 5 of seed 1 is the portfolio's first entry (where it came from).
  JobConfig base = FakeBase();
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 2;
  const TuneSpace space;
  ASSERT_EQ(SampleParams(space, base, 1, 5).Describe(),
            PortfolioParams(space, base).front().Describe());
  FakeWorld world;
  TuneOptions o = FakeOptions(90);
  o.seed = 1;
  const TuneResult r = Tune(base, o, world.Env());
  bool after = false;
  for (const TrialRecord& t : r.trials) {
    EXPECT_NE(t.config, 5) << t.id;
    after |= t.config == 6;
  }
  EXPECT_TRUE(after) << "the draws go on after it";
}

// The configuration ranked first on the partial rungs (the largest fraction it reached, then
// its metric there) of `r`.
int64_t BestPartialConfig(const TuneResult& r) {
  const TrialRecord* best = nullptr;
  for (const TrialRecord& t : r.trials) {
    if (t.config == 0 || t.fraction >= 1.0 || t.status != "ok") continue;
    if (best == nullptr || t.fraction > best->fraction ||
        (t.fraction == best->fraction && t.metric > best->metric)) {
      best = &t;
    }
  }
  return best == nullptr ? -1 : best->config;
}

TEST(Tune, TheBestPartialConfigurationIsTrainedOnAllRows) {
  // Budgets that cut the planned brackets short: the time of the best partial configuration's
  // full-data trial is reserved, and the final rung trains it.
  // Also where larger models train slower than the base (as they do), which a plan from the
  // base's cost alone underestimates.
  for (bool work_scaled : {false, true}) {
    for (double budget : {30.0, 45.0, 60.0, 90.0}) {
      FakeWorld world;
      world.work_scaled = work_scaled;
      const TuneResult r = Tune(FakeBase(), FakeOptions(budget), world.Env());
      const int64_t best = BestPartialConfig(r);
      ASSERT_GE(best, 1) << budget;
      bool full = false;
      for (const TrialRecord& t : r.trials) {
        full |= t.config == best && t.fraction == 1.0 && t.status == "ok";
      }
      EXPECT_TRUE(full) << budget << " " << work_scaled << ":\n" << TrialTable(r, false);
      EXPECT_LE(world.now, budget + 0.1);  // one step of the largest model past the deadline
    }
  }
}

TEST(Tune, TheFinalRungTrainsTheBestPartialConfigurationOfItsBracket) {
  FakeWorld world;
  const TuneResult r = Tune(FakeBase(), FakeOptions(30), world.Env());
  // A full-data trial of a configuration whose last partial trial was in rung n of bracket b
  // is listed as rung n + 1 of bracket b.
  for (const TrialRecord& t : r.trials) {
    if (t.config == 0 || t.fraction < 1.0 || t.parent >= 0) continue;  // not the refinement's
    const TrialRecord* last_partial = nullptr;
    for (const TrialRecord& u : r.trials) {
      if (u.config == t.config && u.fraction < 1.0 && u.id < t.id) last_partial = &u;
    }
    if (last_partial == nullptr) continue;  // a bracket of full-data trials only
    EXPECT_EQ(t.bracket, last_partial->bracket) << t.id;
    EXPECT_EQ(t.rung, last_partial->rung + 1) << t.id;
  }
}

TEST(Tune, TheRefinementTrainsNeighboursOfTheBestOnAllRowsAndIsDeterministic) {
  // The fake scores an embedding learning rate near 0.1 best; the draws and the base stay in
  // [0.02, 0.03], so a step x2 (past the range, as the refinement may) improves on them.
  JobConfig base = FakeBase();
  base.embedding_optimizer.learning_rate = 0.025f;
  TuneOptions o = FakeOptions(90);
  o.space.embedding_lr_min = 0.02;
  o.space.embedding_lr_max = 0.03;
  FakeWorld a, b;
  const TuneResult r = Tune(base, o, a.Env());
  EXPECT_EQ(TrialTable(r, true), TrialTable(Tune(base, o, b.Env()), true));
  // The best full-data trial before trial `end`: the configuration the refinement steps from.
  auto best_before = [&](size_t end) {
    const TrialRecord* best = nullptr;
    for (size_t i = 0; i < end; ++i) {
      const TrialRecord& t = r.trials[i];
      if (t.fraction == 1.0 && t.status == "ok" && (best == nullptr || t.metric > best->metric))
        best = &t;
    }
    return best;
  };
  size_t first = 0;
  while (first < r.trials.size() && r.trials[first].parent < 0) ++first;
  ASSERT_LT(first, r.trials.size()) << TrialTable(r, false);
  ASSERT_GT(first, 2u);
  const double before = best_before(first)->metric;
  int64_t refined = 0;
  for (size_t i = first; i < r.trials.size(); ++i) {
    const TrialRecord& t = r.trials[i];
    // After the brackets and their final rung: full-data trials, each a neighbour of the best
    // full-data configuration so far, and no configuration twice on all rows.
    ASSERT_GE(t.parent, 0) << t.id;
    EXPECT_EQ(t.fraction, 1.0);
    const TrialRecord* best = best_before(i);
    EXPECT_EQ(t.parent, best->config) << t.id;
    const std::vector<TrialParams> steps = Neighbours(o.space, base, best->params);
    EXPECT_TRUE(std::any_of(steps.begin(), steps.end(), [&](const TrialParams& q) {
      return q.Describe() == t.params.Describe();
    })) << t.params.Describe();
    bool earlier = false;  // a configuration tried before keeps its id; a new one gets its own
    for (size_t j = 0; j < i; ++j) {
      if (r.trials[j].fraction == 1.0)
        EXPECT_NE(r.trials[j].params.Describe(), t.params.Describe()) << t.id;
      earlier |= r.trials[j].config == t.config;
    }
    EXPECT_TRUE(earlier || t.config >= kFirstRefinedConfig) << t.id;
    ++refined;
  }
  EXPECT_GT(refined, 2);
  // A step improved on the brackets' best, and the result is the refined configuration.
  EXPECT_GT(r.trials[r.best_trial].metric, before) << TrialTable(r, false);
  EXPECT_GE(r.trials[r.best_trial].parent, 0);
  EXPECT_LE(a.now, 90.0 + 0.0101);
  // Without the refinement, the brackets use the whole budget.
  FakeWorld c;
  TuneOptions off = o;
  off.refine_share = 0.0;
  const TuneResult plain = Tune(base, off, c.Env());
  for (const TrialRecord& t : plain.trials) EXPECT_LT(t.parent, 0);
  EXPECT_GT(plain.trials.size(), first);
}

TEST(Tune, TheRefinementEstimatesAStepFromItsParentsFullDataTrial) {
  // Three-epoch configurations whose full-data trials the patience ends after epoch 1 (2 s);
  // an estimate of all three epochs (6 s) would leave up to that much of the budget unused.
  // The base (trial 0, no patience: all its epochs) is worse than the draws near 0.1, so the
  // refinement steps from a trial that the patience ended.
  JobConfig base = FakeBase();
  base.train.epochs = 3;
  base.embedding_optimizer.learning_rate = 0.02f;
  TuneOptions o = FakeOptions(70);
  o.space.epochs = {3};
  o.portfolio = false;
  FakeWorld world;
  world.patience_epochs = 1;
  const TuneResult r = Tune(base, o, world.Env());
  int64_t refined = 0;
  double last = 0;
  for (const TrialRecord& t : r.trials) {
    if (t.parent < 0) continue;
    ++refined;
    EXPECT_EQ(t.status, "ok") << t.id;  // estimated right: no step runs into the deadline
    EXPECT_EQ(t.epochs_completed, 1);
    last = t.seconds;
  }
  ASSERT_GT(refined, 2) << TrialTable(r, false);
  // The refinement ran steps while one fitted: less than one step's time is left.
  EXPECT_LE(world.now, 70.0);
  EXPECT_GT(world.now, 70.0 - last) << TrialTable(r, false);
}

TEST(Tune, PartialRungsStopAtTheirFractionOfTheSteps) {
  FakeWorld world;
  const TuneResult r = Tune(FakeBase(), FakeOptions(60), world.Env());
  for (const TrialRecord& t : r.trials) {
    if (t.status != "ok") continue;
    const int64_t full = t.params.epochs * 200;
    if (t.fraction < 1.0) {
      EXPECT_EQ(t.max_steps, std::llround(t.fraction * full)) << t.id;
      EXPECT_EQ(t.rows, t.max_steps * 100) << t.id;
    } else {
      EXPECT_EQ(t.max_steps, 0);
      EXPECT_EQ(t.rows, full * 100) << t.id;
    }
  }
}

TEST(Tune, SameSeedAndClockGiveTheSameTrials) {
  FakeWorld a, b;
  std::vector<std::string> seen_a, seen_b;
  const TuneResult ra = Tune(FakeBase(), FakeOptions(60), a.Env(&seen_a));
  const TuneResult rb = Tune(FakeBase(), FakeOptions(60), b.Env(&seen_b));
  EXPECT_EQ(seen_a, seen_b);
  EXPECT_EQ(TrialTable(ra, true), TrialTable(rb, true));
  // Another seed samples other configurations.
  FakeWorld c;
  TuneOptions other = FakeOptions(60);
  other.seed = 6;
  EXPECT_NE(TrialTable(Tune(FakeBase(), other, c.Env()), true), TrialTable(ra, true));
}

TEST(Tune, RespectsTheBudgetWithinOneTrial) {
  for (double budget : {5.0, 13.0, 31.0, 60.0}) {
    FakeWorld world;
    const TuneResult r = Tune(FakeBase(), FakeOptions(budget), world.Env());
    double longest = 0;
    for (const TrialRecord& t : r.trials) longest = std::max(longest, t.seconds);
    EXPECT_LE(world.now, budget + longest) << budget;
    // The hook stops a running trial at the deadline: one step (0.01 s) past it at most.
    EXPECT_LE(world.now, budget + 0.0101) << budget;
    EXPECT_TRUE(r.budget_exhausted) << budget;
  }
}

TEST(Tune, ATrialRunningAtTheDeadlineIsStoppedAndNotRanked) {
  FakeWorld world;
  // Trial 0 takes 0.5 + 2 s; with 2.2 s it is stopped: no estimate, no best.
  const TuneResult r = Tune(FakeBase(), FakeOptions(2.2), world.Env());
  ASSERT_EQ(r.trials.size(), 1u);
  EXPECT_EQ(r.trials[0].status, "stopped: budget");
  EXPECT_TRUE(std::isnan(r.trials[0].metric));
  EXPECT_EQ(r.best_trial, -1);
  EXPECT_TRUE(r.budget_exhausted);
}

TEST(Tune, InterruptStopsTheSearchAndKeepsTheBestSoFar) {
  FakeWorld world;
  world.interrupt_at_call_3 = true;
  const TuneResult r = Tune(FakeBase(), FakeOptions(600), world.Env());
  EXPECT_TRUE(r.interrupted);
  EXPECT_LE(r.trials.size(), 3u);
  ASSERT_EQ(r.best_trial, 0);  // trial 0 is the only full-data trial
  EXPECT_EQ(ParamsOf(r.best_config).Describe(), ParamsOf(FakeBase()).Describe());
}

TEST(Tune, LowerIsBetterForRatings) {
  FakeWorld world;
  TuneEnv env = world.Env();
  // RMSE: the configuration with the lowest value must win.
  env.runner = [inner = env.runner](const JobConfig& c, TrainHook* hook) {
    TrialOutcome o = inner(c, hook);
    if (o.metrics.count("auc")) o.metrics = {{"rmse", 1.0 - o.metrics["auc"]}};
    return o;
  };
  JobConfig base = FakeBase();
  base.data.task = LabelKind::kReal;
  const TuneResult r = Tune(base, FakeOptions(60), env);
  EXPECT_EQ(r.metric_name, "rmse");
  EXPECT_FALSE(r.higher_is_better);
  ASSERT_GE(r.best_trial, 0);
  for (const TrialRecord& t : r.trials) {
    if (t.fraction == 1.0 && t.status == "ok") EXPECT_GE(t.metric, r.trials[r.best_trial].metric);
  }
}

TEST(Tune, FailedTrialsAreListedAndNotRanked) {
  FakeWorld world;
  TuneEnv env = world.Env();
  env.runner = [inner = env.runner](const JobConfig& c, TrainHook* hook) {
    if (c.embedding_optimizer.learning_rate > 0.12f) {
      TrialOutcome o;
      o.error = "training diverged";
      return o;
    }
    return inner(c, hook);
  };
  const TuneResult r = Tune(FakeBase(), FakeOptions(60), env);
  int failed = 0;
  for (const TrialRecord& t : r.trials) {
    if (t.params.embedding_learning_rate <= 0.12) continue;
    EXPECT_EQ(t.status, "failed: training diverged");
    EXPECT_TRUE(std::isnan(t.metric));
    EXPECT_EQ(t.rung, 0) << "a failed configuration is not promoted";
    ++failed;
  }
  EXPECT_GT(failed, 0);
  ASSERT_GE(r.best_trial, 0);
  EXPECT_LE(r.trials[r.best_trial].params.embedding_learning_rate, 0.12);
  // The base configuration failing ends the search.
  FakeWorld again;
  TuneEnv env0 = again.Env();
  env0.runner = env.runner;
  JobConfig base = FakeBase();
  base.embedding_optimizer.learning_rate = 0.5f;
  EXPECT_THROW(Tune(base, FakeOptions(60), env0), DataError);
}

TEST(Tune, NeedsEvaluationData) {
  FakeWorld world;
  JobConfig base = FakeBase();
  base.data.eval_files.clear();
  EXPECT_THROW(Tune(base, FakeOptions(60), world.Env()), ConfigError);
}

TEST(Tune, TablesListEveryTrial) {
  FakeWorld world;
  const TuneResult r = Tune(FakeBase(), FakeOptions(20), world.Env());
  const std::string tsv = TrialTable(r, true);
  EXPECT_EQ(static_cast<size_t>(std::count(tsv.begin(), tsv.end(), '\n')), r.trials.size() + 1);
  EXPECT_NE(tsv.find("trial\tconfig\tparent\tbracket\trung\tfraction\trows\telr"),
            std::string::npos);
  const std::string json = TrialsJson(r);
  EXPECT_NE(json.find("\"best_trial\""), std::string::npos);
  EXPECT_NE(json.find("\"embedding_learning_rate\""), std::string::npos);
}

TEST(ParseDuration, ReadsSecondsMinutesAndHours) {
  EXPECT_DOUBLE_EQ(ParseDuration("600", "--budget"), 600);
  EXPECT_DOUBLE_EQ(ParseDuration("90s", "--budget"), 90);
  EXPECT_DOUBLE_EQ(ParseDuration("10m", "--budget"), 600);
  EXPECT_DOUBLE_EQ(ParseDuration("1.5h", "--budget"), 5400);
  for (const char* bad : {"0", "abc", "", "-5", "10x", "0m"}) {
    try {
      ParseDuration(bad, "--budget");
      ADD_FAILURE() << bad;
    } catch (const ConfigError& e) {
      EXPECT_NE(std::string(e.what()).find("--budget"), std::string::npos) << e.what();
    }
  }
}

// ---------------------------------------------------------------------------------------------
// The real runner: a Trainer on small generated data.

TEST(TrainerRunner, TrainsEvaluatesAndRemovesItsFiles) {
  const fs::path dir = fs::temp_directory_path() / ("crank_tune_test_" + std::to_string(getpid()));
  fs::create_directories(dir / "work");
  auto gen = [&](const char* name, int64_t rows, uint64_t seed) {
    SyntheticOptions o;
    o.rows = rows;
    o.seed = seed;
    o.max_cardinality = 300;
    std::ofstream out(dir / name);
    GenerateSyntheticCriteo(o, out);
    return (dir / name).string();
  };
  JobConfig c;
  c.data.train_files = {gen("train.tsv", 3000, 1)};
  c.data.eval_files = {gen("eval.tsv", 1000, 2)};
  c.data.criteo.encoding.hash_buckets = 500;
  c.model.embedding_dim = 4;
  c.model.bottom = {8, 4};
  c.model.top = {8, 1};
  c.embedding_optimizer.learning_rate = 1.0f;
  c.dense_optimizer.learning_rate = 0.003f;
  c.train.batch_size = 100;
  c.train.max_steps = 30;
  c.train.eval_every = 30;
  ConfigureThreads(1);
  struct NoStop : TrainHook {
  } hook;
  const TrialOutcome o = MakeTrainerRunner((dir / "work").string())(c, &hook);
  EXPECT_TRUE(o.error.empty()) << o.error;
  EXPECT_EQ(o.rows, 3000);
  ASSERT_TRUE(o.metrics.count("auc"));
  EXPECT_GT(o.metrics.at("auc"), 0.5);
  EXPECT_TRUE(fs::is_empty(dir / "work"));
  // A diverging run is a failed trial, not an exception.
  c.embedding_optimizer.learning_rate = 1e30f;
  c.dense_optimizer.learning_rate = 1e30f;
  const TrialOutcome bad = MakeTrainerRunner((dir / "work").string())(c, &hook);
  EXPECT_NE(bad.error.find("diverged"), std::string::npos) << bad.error;
  EXPECT_TRUE(fs::is_empty(dir / "work"));
  fs::remove_all(dir);
}

}  // namespace
}  // namespace crank
