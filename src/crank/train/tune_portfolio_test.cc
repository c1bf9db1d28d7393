#include "crank/train/tune_portfolio.h"

#include <gtest/gtest.h>

#include <vector>

#include "crank/train/tune.h"

namespace crank {
namespace {

// ---------------------------------------------------------------------------------------------
// The portfolio.

JobConfig VocabularyBase() {
  JobConfig base;
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 2;
  return base;
}

TEST(TunePortfolio, AppliesToVocabularyDataInItsOrder) {
  // The space grown for large data holds every entry's values.
  const TuneSpace large = GrownSpace(TuneSpace(), 1'000'000);
  const std::vector<TrialParams> ps = PortfolioParams(large, VocabularyBase());
  ASSERT_EQ(ps.size(), PortfolioEntries().size());
  ASSERT_GE(ps.size(), 3u);
  EXPECT_EQ(ps[0].Describe(),
            "elr=0.0949 dlr=0.000981 l2=2.21e-05 dim=32 min_count=5 cross3/r32 epochs=3");
  EXPECT_EQ(ps[1].Describe(),
            "elr=0.0872 dlr=0.000588 l2=0 dim=32 min_count=10 cross2/r32 epochs=3");
  EXPECT_EQ(ps[2].Describe(), "elr=0.0943 dlr=0.00131 l2=0 dim=64 min_count=20 cross1 epochs=3");
  for (const TrialParams& p : ps) {
    JobConfig c = VocabularyBase();
    ApplyParams(p, &c);
    c.Validate();
    EXPECT_EQ(ParamsOf(c).Describe(), p.Describe());
    const JobConfig back = JobConfig::FromYamlString(c.ToYaml(), "best.yaml");
    EXPECT_EQ(ParamsOf(back).Describe(), p.Describe());
  }
  // Hashed Criteo data that the space may switch to vocabularies: the same entries, encoded
  // with vocabularies of every field.
  const JobConfig hashed;
  const std::vector<TrialParams> switched = PortfolioParams(large, hashed);
  ASSERT_EQ(switched.size(), ps.size());
  for (size_t i = 0; i < ps.size(); ++i) {
    EXPECT_EQ(switched[i].Describe(), ps[i].Describe());
    JobConfig c = hashed;
    ApplyParams(switched[i], &c);
    EXPECT_EQ(c.data.criteo.encoding.kind, Encoding::Kind::kVocabulary);
    EXPECT_EQ(c.data.criteo.encoding.vocabulary.min_count, ps[i].min_count);
  }
  // Delimited data with a vocabulary field: its min_count; a hashed field stays hashed.
  JobConfig delimited;
  delimited.data.format = DataFormat::kDelimited;
  delimited.data.delimited.sparse.resize(2);
  delimited.data.delimited.sparse[0].encoding.kind = Encoding::Kind::kVocabulary;
  delimited.data.delimited.sparse[1].encoding.hash_buckets = 777;
  const std::vector<TrialParams> mixed = PortfolioParams(large, delimited);
  ASSERT_EQ(mixed.size(), ps.size());
  ApplyParams(mixed[0], &delimited);
  EXPECT_EQ(delimited.data.delimited.sparse[0].encoding.vocabulary.min_count, 5);
  EXPECT_EQ(delimited.data.delimited.sparse[1].encoding.kind, Encoding::Kind::kHash);
  EXPECT_EQ(delimited.data.delimited.sparse[1].encoding.hash_buckets, 777);
}

TEST(TunePortfolio, TheLargeDataEntriesNeedTheGrownSpace) {
  // Dimension 64, min_count 20 and catch-up 100 lie outside the space of smaller data.
  const std::vector<TrialParams> small = PortfolioParams(TuneSpace(), VocabularyBase());
  ASSERT_EQ(small.size(), PortfolioEntries().size() - 2);
  for (const TrialParams& p : small) {
    EXPECT_NE(p.embedding_dim, 64) << p.Describe();
    EXPECT_EQ(p.l2_catch_up, 0) << p.Describe();
  }
  const std::vector<TrialParams> large =
      PortfolioParams(GrownSpace(TuneSpace(), 500'000), VocabularyBase());
  ASSERT_EQ(large.size(), PortfolioEntries().size());
  EXPECT_EQ(large[2].embedding_dim, 64);
  EXPECT_EQ(large[2].min_count, 20);
  EXPECT_EQ(large[3].Describe(),
            "elr=0.0331 dlr=0.00111 l2=0.0001 catch_up=100 dim=64 min_count=10 dot epochs=3");
  for (const TrialParams& p : large) {
    JobConfig c = VocabularyBase();
    ApplyParams(p, &c);
    c.Validate();
    EXPECT_EQ(c.model.embedding_l2_catch_up, p.l2_catch_up);
  }
  // A space without catch-up on large data (`crank tune --l2-catch-ups 0`) leaves its entry out.
  TuneSpace no_catch_up;
  no_catch_up.l2_catch_ups = {0};
  no_catch_up.large_data_l2_catch_ups.clear();
  EXPECT_EQ(PortfolioParams(GrownSpace(no_catch_up, 500'000), VocabularyBase()).size(),
            PortfolioEntries().size() - 1);
}

TEST(TunePortfolio, SkippedWhereItDoesNotApply) {
  // No vocabulary to give a min_count: per-field hashed Criteo, hashing with vocabularies
  // ruled out, delimited data with hashed fields only.
  JobConfig per_field;
  per_field.data.criteo.fields["C3"].hash_buckets = 50;
  EXPECT_TRUE(PortfolioParams(TuneSpace(), per_field).empty());
  TuneSpace no_vocabulary;
  no_vocabulary.vocabulary_probability = 0.0;
  EXPECT_TRUE(PortfolioParams(no_vocabulary, JobConfig()).empty());
  JobConfig delimited;
  delimited.data.format = DataFormat::kDelimited;
  delimited.data.delimited.sparse.resize(2);
  EXPECT_TRUE(PortfolioParams(TuneSpace(), delimited).empty());
  // Values outside the space given: each such change removes every entry.
  std::vector<TuneSpace> narrowed(6);
  narrowed[0].embedding_dims = {8, 16};
  narrowed[1].epochs = {1, 2};
  narrowed[2].min_counts = {1, 2};
  narrowed[3].cross_probability = 0.0;
  narrowed[4].cross_projection_dims = {0};
  narrowed[5].dense_lr_min = 0.001;
  for (const TuneSpace& space : narrowed)
    EXPECT_TRUE(PortfolioParams(space, VocabularyBase()).empty());
  // A space that keeps one entry's values keeps that entry alone.
  TuneSpace two_layers;
  two_layers.cross_layers = {2};
  const std::vector<TrialParams> kept = PortfolioParams(two_layers, VocabularyBase());
  ASSERT_EQ(kept.size(), 1u);
  EXPECT_EQ(kept[0].cross_layers, 2);
}

}  // namespace
}  // namespace crank
