#include "crank/model/l2_regularization.h"

#include <gtest/gtest.h>

#include <cstring>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/compute_settings.h"
#include "crank/kernels/embedding_precision.h"

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

}  // namespace
}  // namespace crank
