#include "crank/model/l2_regularization.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/embedding_precision.h"
#include "crank/optim/optimizer.h"

namespace crank {
namespace {

// The serial pass this replaced (Ranking::ApplyRegularization before it ran in parallel): one
// variable after another, row after row, the penalty a running double sum. Tests are built
// without the library's -march=native, so this copy may round where the library's code fuses a
// multiply-add: it checks the math to a few ulps; the bits are checked against one thread, and
// build against build by bench/compare_bits.sh.
double SerialL2(const std::vector<Variable*>& vars) {
  double penalty = 0.0;
  for (Variable* v : vars) {
    if (v->l2 == 0.0f) continue;
    const float two_l2 = 2.0f * v->l2;
    if (v->sparse) {
      const int64_t e = v->shape()[1];
      std::vector<float> w(static_cast<size_t>(e));
      for (size_t i = 0; i < v->sparse_grad.ids.size(); ++i) {
        v->ReadRow(v->sparse_grad.ids[i], w.data());
        float* g = v->sparse_grad.rows.row(static_cast<int64_t>(i));
        double s = 0.0;
        for (int64_t j = 0; j < e; ++j) {
          s += double(w[j]) * w[j];
          g[j] += two_l2 * w[j];
        }
        penalty += v->l2 * s;
      }
    } else {
      double s = 0.0;
      for (int64_t j = 0; j < v->value.size(); ++j) {
        s += double(v->value[j]) * v->value[j];
        v->grad[j] += two_l2 * v->value[j];
      }
      penalty += v->l2 * s;
    }
  }
  return penalty;
}

// A (rows, e) table with l2, in the given precision, gradient rows at every `every`-th id.
Variable Table(int64_t rows, int64_t e, float l2, EmbeddingPrecision precision, int64_t every,
               Rng& rng) {
  Variable v;
  v.sparse = true;
  v.l2 = l2;
  v.precision = precision;
  Tensor value({rows, e});
  for (int64_t i = 0; i < value.size(); ++i) value[i] = rng.UniformFloat() - 0.5f;
  if (precision == EmbeddingPrecision::kFp32) {
    v.value = value;
  } else {
    v.value16 = Tensor16({rows, e});
    for (int64_t r = 0; r < rows; ++r)
      NarrowRowNearest(precision, value.row(r), e, v.value16.row(r));
  }
  for (int64_t id = 0; id < rows; id += every) v.sparse_grad.ids.push_back(id);
  v.sparse_grad.rows.Resize({static_cast<int64_t>(v.sparse_grad.ids.size()), e});
  for (int64_t i = 0; i < v.sparse_grad.rows.size(); ++i)
    v.sparse_grad.rows[i] = rng.UniformFloat() - 0.5f;
  return v;
}

Variable Dense(int64_t rows, int64_t cols, float l2, Rng& rng) {
  Variable v;
  v.l2 = l2;
  v.value.Resize({rows, cols});
  v.grad.Resize({rows, cols});
  for (int64_t i = 0; i < v.value.size(); ++i) {
    v.value[i] = rng.UniformFloat() - 0.5f;
    v.grad[i] = rng.UniformFloat() - 0.5f;
  }
  return v;
}

std::vector<Variable> Model() {
  Rng rng(7);
  std::vector<Variable> vars;
  for (int t = 0; t < 9; ++t)
    vars.push_back(Table(5000, 16, 1e-3f, EmbeddingPrecision::kFp32, 3 + t, rng));
  vars.push_back(Table(3000, 16, 2e-3f, EmbeddingPrecision::kBf16, 4, rng));
  vars.push_back(Table(3000, 8, 2e-3f, EmbeddingPrecision::kFp16, 5, rng));
  vars.push_back(Table(1000, 16, 0.0f, EmbeddingPrecision::kFp32, 2, rng));      // no penalty
  vars.push_back(Table(1000, 16, 1e-3f, EmbeddingPrecision::kFp32, 2000, rng));  // one row
  Variable empty = Table(1000, 16, 1e-3f, EmbeddingPrecision::kFp32, 1, rng);
  empty.sparse_grad.Clear();
  vars.push_back(std::move(empty));
  vars.push_back(Dense(300, 40, 1e-2f, rng));
  vars.push_back(Dense(1, 40, 0.0f, rng));
  return vars;
}

std::vector<Variable*> Pointers(std::vector<Variable>& vars) {
  std::vector<Variable*> out;
  for (Variable& v : vars) out.push_back(&v);
  return out;
}

const Tensor& Gradient(const Variable& v) { return v.sparse ? v.sparse_grad.rows : v.grad; }

void ExpectSameGradientBits(const std::vector<Variable>& a, const std::vector<Variable>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const Tensor &ga = Gradient(a[k]), &gb = Gradient(b[k]);
    ASSERT_EQ(ga.size(), gb.size()) << k;
    EXPECT_EQ(std::memcmp(ga.data(), gb.data(), sizeof(float) * ga.size()), 0) << "variable " << k;
  }
}

// The gradients are below 1 in magnitude; a fused multiply-add moves one by an ulp or two.
void ExpectNearGradients(const std::vector<Variable>& a, const std::vector<Variable>& b) {
  ASSERT_EQ(a.size(), b.size());
  for (size_t k = 0; k < a.size(); ++k) {
    const Tensor &ga = Gradient(a[k]), &gb = Gradient(b[k]);
    ASSERT_EQ(ga.size(), gb.size()) << k;
    for (int64_t i = 0; i < ga.size(); ++i) ASSERT_NEAR(ga[i], gb[i], 2e-7f) << k << " " << i;
  }
}

TEST(L2Regularization, HandComputedRowsAndDenseVariable) {
  Variable table;
  table.sparse = true;
  table.l2 = 0.5f;
  table.value = Tensor({3, 2});
  for (int64_t i = 0; i < 6; ++i) table.value[i] = static_cast<float>(i + 1);  // rows 12 34 56
  table.sparse_grad.ids = {0, 2};
  table.sparse_grad.rows = Tensor({2, 2});  // zeros
  Variable dense;
  dense.l2 = 0.25f;
  dense.value = Tensor({2});
  dense.value[0] = 2.0f;
  dense.value[1] = -4.0f;
  dense.grad = Tensor({2});
  dense.grad[0] = 1.0f;
  L2Scratch scratch;
  const double penalty = ApplyL2Regularization({&table, &dense}, &scratch);
  // 0.5 * (1 + 4 + 25 + 36) + 0.25 * (4 + 16); row 1 is not touched.
  EXPECT_DOUBLE_EQ(penalty, 33.0 + 5.0);
  const float expected_rows[] = {1.0f, 2.0f, 5.0f, 6.0f};  // 2 * 0.5 * w
  for (int i = 0; i < 4; ++i) EXPECT_EQ(table.sparse_grad.rows[i], expected_rows[i]) << i;
  EXPECT_EQ(dense.grad[0], 1.0f + 1.0f);
  EXPECT_EQ(dense.grad[1], -2.0f);
}

TEST(L2Regularization, MatchesTheSerialPassAndGivesTheSameBitsForAnyThreadCount) {
  std::vector<Variable> serial = Model();
  const double serial_penalty = SerialL2(Pointers(serial));
  std::vector<Variable> one = Model();
  L2Scratch scratch;
  double one_penalty;
  {
    const ScopedComputeSettings settings({.threads = 1});
    one_penalty = ApplyL2Regularization(Pointers(one), &scratch);
  }
  EXPECT_DOUBLE_EQ(one_penalty, serial_penalty);
  EXPECT_GT(one_penalty, 0.0);
  ExpectNearGradients(one, serial);
  for (int threads : {2, 3}) {
    std::vector<Variable> vars = Model();
    double penalty;
    {
      const ScopedComputeSettings settings({.threads = threads});
      penalty = ApplyL2Regularization(Pointers(vars), &scratch);
    }
    EXPECT_EQ(std::memcmp(&penalty, &one_penalty, sizeof(double)), 0)
        << threads << " threads: " << penalty << " vs " << one_penalty;
    ExpectSameGradientBits(vars, one);
  }
}

TEST(L2Regularization, ScratchIsReusedAcrossCallsOfDifferentSizes) {
  L2Scratch scratch;
  std::vector<Variable> big = Model();
  std::vector<Variable> small = Model();
  small.resize(2);
  std::vector<Variable> small_alone = Model();
  small_alone.resize(2);
  ApplyL2Regularization(Pointers(big), &scratch);
  const double reused = ApplyL2Regularization(Pointers(small), &scratch);
  L2Scratch fresh;
  const double alone = ApplyL2Regularization(Pointers(small_alone), &fresh);
  EXPECT_EQ(std::memcmp(&reused, &alone, sizeof(double)), 0);
  ExpectSameGradientBits(small, small_alone);
}

// A (4, 1) table of ones with l2 0.5 (gradient 2 * 0.5 * f * 1 = f) and catch-up cap `cap`,
// touching `ids` with zero gradients.
void Touch(Variable* v, std::vector<int64_t> ids) {
  v->sparse_grad.ids = std::move(ids);
  v->sparse_grad.rows = Tensor({static_cast<int64_t>(v->sparse_grad.ids.size()), 1});
}

Variable CatchUpTable(int64_t cap) {
  Variable v;
  v.name = "t";
  v.sparse = true;
  v.l2 = 0.5f;
  v.l2_catch_up = cap;
  v.value = Tensor({4, 1});
  v.value.Fill(1.0f);
  return v;
}

// The factors of steps 0..3 touching {0,1,2,3}, {0}, {0,1}, {0,3}: a row's gradient counts the
// steps since its last one (from the start for a first touch), at most the cap.
TEST(L2CatchUp, ARowsGradientCountsTheStepsItMissedUpToTheCap) {
  for (const int64_t cap : {int64_t{2}, int64_t{100}}) {
    Variable v = CatchUpTable(cap);
    std::unique_ptr<Optimizer> sgd = MakeSgd({.learning_rate = 0.0f});
    L2Scratch scratch;
    std::vector<std::vector<int64_t>> touched = {{1, 2}, {0}, {0, 1}, {0, 3}};
    std::vector<std::vector<float>> expected = {
        {1, 1}, {2}, {1, std::min<float>(2, cap)}, {1, std::min<float>(4, cap)}};
    for (size_t step = 0; step < touched.size(); ++step) {
      Touch(&v, touched[step]);
      const double penalty = ApplyL2Regularization({&v}, &scratch, sgd.get());
      EXPECT_DOUBLE_EQ(penalty, 0.5 * static_cast<double>(touched[step].size()))
          << "the penalty is not scaled";
      for (size_t i = 0; i < touched[step].size(); ++i) {
        EXPECT_EQ(v.sparse_grad.rows[static_cast<int64_t>(i)], expected[step][i])
            << "cap " << cap << " step " << step << " row " << touched[step][i];
      }
      sgd->Apply({&v});
    }
    const auto state = sgd->StateTensors();
    ASSERT_EQ(state.size(), 1u);
    EXPECT_EQ(state[0].first, "t/l2_steps");
    const Tensor& paid = *state[0].second;  // steps paid: 4, 3, 1, 4 as (hi, lo)
    const float expected_paid[] = {0, 4, 0, 3, 0, 1, 0, 4};
    for (int i = 0; i < 8; ++i) EXPECT_EQ(paid[i], expected_paid[i]) << i;
  }
}

TEST(L2CatchUp, OffWithoutAnOptimizerOrACapBelowTwoOrNoL2) {
  for (const int64_t cap : {int64_t{0}, int64_t{1}, int64_t{50}}) {
    Variable v = CatchUpTable(cap);
    std::unique_ptr<Optimizer> sgd = MakeSgd({.learning_rate = 0.0f});
    L2Scratch scratch;
    for (int step = 0; step < 3; ++step) {
      Touch(&v, {3});
      // Without an optimizer (cap 50) there are no steps to count.
      ApplyL2Regularization({&v}, &scratch, cap == 50 ? nullptr : sgd.get());
      EXPECT_EQ(v.sparse_grad.rows[0], 1.0f) << "cap " << cap << " step " << step;
      sgd->Apply({&v});
    }
    EXPECT_EQ(sgd->StateTensors().empty(), cap < 2) << "catch-up state for cap " << cap;
  }
  Variable no_l2 = CatchUpTable(50);
  no_l2.l2 = 0.0f;
  std::unique_ptr<Optimizer> sgd = MakeSgd({.learning_rate = 0.0f});
  sgd->Prepare({&no_l2});
  EXPECT_EQ(sgd->L2CatchUpState(no_l2), nullptr);
}

// The count of steps is exact past the 2^24 a float holds: it is kept as two floats.
TEST(L2CatchUp, StepCountsPastTwoToTheTwentyFourAreExact) {
  Variable v = CatchUpTable(1000);
  std::unique_ptr<Optimizer> sgd = MakeSgd({.learning_rate = 0.0f});
  L2Scratch scratch;
  const int64_t big = (int64_t{1} << 24) * 3 + 5;  // not a float
  sgd->set_iterations(big);
  Touch(&v, {0, 1});
  ApplyL2Regularization({&v}, &scratch, sgd.get());
  EXPECT_EQ(v.sparse_grad.rows[0], 1000.0f);  // never touched: capped
  sgd->Apply({&v});
  sgd->set_iterations(big + 7);  // row 0 missed steps big + 1 .. big + 6
  Touch(&v, {0});
  ApplyL2Regularization({&v}, &scratch, sgd.get());
  EXPECT_EQ(v.sparse_grad.rows[0], 7.0f);
  const Tensor& paid = *sgd->L2CatchUpState(v);
  EXPECT_EQ(paid[0], 3.0f);
  EXPECT_EQ(paid[1], 13.0f);  // big + 8 = 3 * 2^24 + 13
  EXPECT_EQ(paid[2], 3.0f);
  EXPECT_EQ(paid[3], 6.0f);
}

}  // namespace
}  // namespace crank
