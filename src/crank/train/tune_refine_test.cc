#include "crank/train/tune_refine.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>
#include <string>

namespace crank {
namespace {

// How many of the values of TrialParams differ between `a` and `b`.
int Differences(const TrialParams& a, const TrialParams& b) {
  return (a.embedding_learning_rate != b.embedding_learning_rate) +
         (a.dense_learning_rate != b.dense_learning_rate) + (a.embedding_l2 != b.embedding_l2) +
         (a.embedding_dim != b.embedding_dim) + (a.hash_buckets != b.hash_buckets) +
         (a.min_count != b.min_count) + (a.InteractionText() != b.InteractionText()) +
         (a.epochs != b.epochs) + (a.l2_catch_up != b.l2_catch_up);
}

JobConfig VocabularyBase() {
  JobConfig base;
  base.data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
  base.data.criteo.encoding.vocabulary.min_count = 2;
  return base;
}

TrialParams Cross2(int64_t dim, int64_t min_count) {
  TrialParams p;
  p.embedding_learning_rate = 0.0872;
  p.dense_learning_rate = 0.000588;
  p.embedding_l2 = 0.0;
  p.embedding_dim = dim;
  p.min_count = min_count;
  p.interaction = Interaction::kCross;
  p.cross_layers = 2;
  p.cross_projection_dim = 32;
  p.epochs = 3;
  return p;
}

TEST(TuneRefine, EachNeighbourChangesOneValueInTheSpaceInTheDocumentedOrder) {
  const TuneSpace space;
  const TrialParams p = Cross2(16, 5);
  const std::vector<TrialParams> n = Neighbours(space, VocabularyBase(), p);
  std::vector<std::string> got;
  for (const TrialParams& q : n) {
    EXPECT_EQ(Differences(p, q), 1) << q.Describe();
    got.push_back(q.Describe());
  }
  const std::vector<std::string> want = {
      "elr=0.174 dlr=0.000588 l2=0 dim=16 min_count=5 cross2/r32 epochs=3",
      "elr=0.0436 dlr=0.000588 l2=0 dim=16 min_count=5 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.00118 l2=0 dim=16 min_count=5 cross2/r32 epochs=3",
      // One step under the range's 3e-4.
      "elr=0.0872 dlr=0.000294 l2=0 dim=16 min_count=5 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=10 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=2 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=32 min_count=5 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=8 min_count=5 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=3.16e-06 dim=16 min_count=5 cross2/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=5 cross3/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=5 cross1/r32 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=5 cross2 epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=5 dot epochs=3",
      "elr=0.0872 dlr=0.000588 l2=0 dim=16 min_count=5 cross2/r32 epochs=2",
  };
  EXPECT_EQ(got, want);
}

// With L2, the catch-up steps to the space's other values (turning it on, also with the L2 x10,
// at most l2_max); without L2 it has no neighbour and stays 0 (an L2 of 0 with catch-up is the
// same model as without).
TEST(TuneRefine, CatchUpStepsOnlyWithL2) {
  TuneSpace space;
  space.l2_catch_ups = {0, 100};
  TrialParams p = Cross2(16, 5);
  p.embedding_l2 = 1e-5;
  std::vector<std::string> catch_ups;
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    EXPECT_EQ(Differences(p, q),
              q.l2_catch_up != p.l2_catch_up && q.embedding_l2 != p.embedding_l2 ? 2 : 1)
        << q.Describe();
    if (q.l2_catch_up != p.l2_catch_up) catch_ups.push_back(q.Describe());
  }
  EXPECT_EQ(catch_ups,
            (std::vector<std::string>{
                "elr=0.0872 dlr=0.000588 l2=1e-05 catch_up=100 dim=16 min_count=5 cross2/r32 "
                "epochs=3",
                "elr=0.0872 dlr=0.000588 l2=0.0001 catch_up=100 dim=16 min_count=5 cross2/r32 "
                "epochs=3"}));
  p.embedding_l2 = 5e-5;  // x10 is past l2_max: the top of the range
  catch_ups.clear();
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    if (q.l2_catch_up != p.l2_catch_up) catch_ups.push_back(q.Describe());
  }
  ASSERT_EQ(catch_ups.size(), 2u);
  EXPECT_NE(catch_ups[1].find("l2=0.0001 catch_up=100"), std::string::npos) << catch_ups[1];
  p.embedding_l2 = 1e-4;  // at the top: one step
  catch_ups.clear();
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    if (q.l2_catch_up != p.l2_catch_up) catch_ups.push_back(q.Describe());
  }
  EXPECT_EQ(catch_ups.size(), 1u);
  p.embedding_l2 = 1e-5;
  p.l2_catch_up = 100;
  bool to_zero_l2 = false;
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    if (q.embedding_l2 == 0.0) {
      to_zero_l2 = true;
      EXPECT_EQ(q.l2_catch_up, 0) << q.Describe();
    }
  }
  EXPECT_TRUE(to_zero_l2);
  p.embedding_l2 = 0.0;
  p.l2_catch_up = 0;
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    EXPECT_EQ(q.l2_catch_up, 0) << q.Describe();
  }
}

// A configuration that overfit tries the steps that turn catch-up on first, in their order; the
// others keep theirs. One that did not, or has no such step, keeps the order.
TEST(TuneRefine, AConfigurationThatOverfitTriesCatchUpFirst) {
  TuneSpace space;
  space.l2_catch_ups = {0, 100};
  TrialParams p = Cross2(16, 5);
  p.embedding_l2 = 1e-5;
  const std::vector<TrialParams> n = Neighbours(space, VocabularyBase(), p);
  const std::vector<TrialParams> kept = RefinementOrder(n, p, /*overfit=*/false);
  ASSERT_EQ(kept.size(), n.size());
  for (size_t i = 0; i < n.size(); ++i) EXPECT_EQ(kept[i].Describe(), n[i].Describe());
  const std::vector<TrialParams> first = RefinementOrder(n, p, /*overfit=*/true);
  ASSERT_EQ(first.size(), n.size());
  EXPECT_EQ(first[0].l2_catch_up, 100);
  EXPECT_EQ(first[0].embedding_l2, 1e-5);
  EXPECT_EQ(first[1].l2_catch_up, 100);
  EXPECT_EQ(first[1].embedding_l2, 1e-4);
  std::vector<std::string> rest_before, rest_after;
  for (const TrialParams& q : n)
    if (q.l2_catch_up == 0) rest_before.push_back(q.Describe());
  for (size_t i = 2; i < first.size(); ++i) rest_after.push_back(first[i].Describe());
  EXPECT_EQ(rest_after, rest_before);
  // Without catch-up in the space (data below the growth threshold) nothing moves.
  const std::vector<TrialParams> small = Neighbours(TuneSpace(), VocabularyBase(), p);
  const std::vector<TrialParams> same = RefinementOrder(small, p, /*overfit=*/true);
  for (size_t i = 0; i < small.size(); ++i) EXPECT_EQ(same[i].Describe(), small[i].Describe());
}

TEST(TuneRefine, StepsStopAtTheEdgesOfTheSpace) {
  TuneSpace space;
  space.cross_probability = 1.0;  // never dot
  TrialParams p = Cross2(32, 10);
  p.embedding_learning_rate = 0.8;  // one step past the top of the range: x2 is out
  p.embedding_l2 = 1e-4;            // the top: x10 is out
  std::set<std::string> got;
  for (const TrialParams& q : Neighbours(space, VocabularyBase(), p)) {
    EXPECT_LE(q.embedding_learning_rate, 2 * space.embedding_lr_max);
    EXPECT_LE(q.embedding_l2, space.l2_max);
    EXPECT_LE(q.embedding_dim, 32);
    EXPECT_LE(q.min_count, 10);
    EXPECT_EQ(q.interaction, Interaction::kCross);
    EXPECT_EQ(Differences(p, q), 1) << q.Describe();
    got.insert(q.Describe());
  }
  EXPECT_TRUE(got.count("elr=0.4 dlr=0.000588 l2=0.0001 dim=32 min_count=10 cross2/r32 epochs=3"));
  EXPECT_TRUE(got.count("elr=0.8 dlr=0.000588 l2=1e-05 dim=32 min_count=10 cross2/r32 epochs=3"));
  EXPECT_TRUE(got.count("elr=0.8 dlr=0.000588 l2=0 dim=32 min_count=10 cross2/r32 epochs=3"));
  EXPECT_TRUE(got.count("elr=0.8 dlr=0.000588 l2=0.0001 dim=16 min_count=10 cross2/r32 epochs=3"));
}

TEST(TuneRefine, HashedDataStepsItsBucketsUnderTheCap) {
  const JobConfig base;  // Criteo, 26 fields hashed
  TuneSpace space;
  space.max_embedding_params = 26 * 100'000 * 16;
  TrialParams p;  // dot, dim 16
  p.hash_buckets = 100'000;
  std::set<int64_t> buckets, dims;
  for (const TrialParams& q : Neighbours(space, base, p)) {
    EXPECT_EQ(q.min_count, 0);
    EXPECT_LE(26 * q.hash_buckets * q.embedding_dim, space.max_embedding_params) << q.Describe();
    buckets.insert(q.hash_buckets);
    dims.insert(q.embedding_dim);
  }
  EXPECT_EQ(buckets, (std::set<int64_t>{30'000, 100'000}));  // 300k x 16 is over the cap
  EXPECT_EQ(dims, (std::set<int64_t>{8, 16}));               // 100k x 32 too
}

TEST(TuneRefine, DotStepsToTheFirstCrossNetwork) {
  TrialParams p = Cross2(16, 5);
  p.interaction = Interaction::kDot;
  int cross = 0;
  for (const TrialParams& q : Neighbours(TuneSpace(), VocabularyBase(), p)) {
    if (q.interaction != Interaction::kCross) continue;
    ++cross;
    EXPECT_EQ(q.InteractionText(), "cross1");  // the lists' first values: 1 layer, full rank
  }
  EXPECT_EQ(cross, 1);
  TuneSpace no_cross;
  no_cross.cross_probability = 0.0;
  for (const TrialParams& q : Neighbours(no_cross, VocabularyBase(), p))
    EXPECT_EQ(q.interaction, Interaction::kDot);
}

}  // namespace
}  // namespace crank
