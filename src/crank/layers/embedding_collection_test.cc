#include "crank/layers/embedding_collection.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <string>
#include <tuple>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"
#include "gradient_check.h"

namespace crank {
namespace {

SparseFeature Bags(std::vector<int64_t> ids, std::vector<int64_t> offsets,
                   std::vector<float> weights = {}) {
  SparseFeature f;
  f.ids = std::move(ids);
  f.offsets = std::move(offsets);
  f.weights = std::move(weights);
  return f;
}

// The dense (V, E) view of a row-sparse gradient.
std::vector<float> Dense(const Variable& v) {
  const int64_t dim = v.value.dim(1);
  std::vector<float> dense(static_cast<size_t>(v.value.size()), 0.0f);
  for (size_t i = 0; i < v.sparse_grad.ids.size(); ++i) {
    for (int64_t e = 0; e < dim; ++e) {
      dense[static_cast<size_t>(v.sparse_grad.ids[i] * dim + e)] =
          v.sparse_grad.rows.at(static_cast<int64_t>(i), e);
    }
  }
  return dense;
}

void SetTable(Variable* v, const std::vector<float>& values) {
  ASSERT_EQ(v->value.size(), static_cast<int64_t>(values.size()));
  std::copy(values.begin(), values.end(), v->value.data());
}

void ExpectTensor(const Tensor& t, const std::vector<int64_t>& shape,
                  const std::vector<float>& want) {
  ASSERT_EQ(t.shape(), shape);
  for (int64_t i = 0; i < t.size(); ++i) EXPECT_NEAR(t[i], want[static_cast<size_t>(i)], 1e-6) << i;
}

template <typename F>
void ExpectInvalid(F&& f, const std::string& substring) {
  try {
    f();
    ADD_FAILURE() << "expected InvalidArgument containing: " << substring;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(substring), std::string::npos)
        << "message: " << e.what() << "\nexpected to contain: " << substring;
  }
}

// Two tables; features "b" and "a" share table "t" (sum and sqrtn), "c" reads "u" (mean).
EmbeddingCollection SharedCollection() {
  EmbeddingCollection ec({{"t", 4, 2}, {"u", 3, 3}},
                         {{"b", "t", Pooling::kSum}, {"c", "u"}, {"a", "t", Pooling::kSqrtn}});
  Rng rng(1);
  ec.Build(rng);
  return ec;
}

TEST(EmbeddingCollection, SortsFeaturesAndNamesVariables) {
  EmbeddingCollection ec({{"t", 4, 2, 0, 0.5f}, {"u", 3, 3}},
                         {{"b", "t", Pooling::kSum}, {"c", "u"}, {"a", "t"}});
  EXPECT_EQ(ec.FeatureNames(), (std::vector<std::string>{"a", "b", "c"}));
  EXPECT_EQ(ec.OutputDims(), (std::vector<int64_t>{2, 2, 3}));
  EXPECT_EQ(ec.features()[1].pooling, Pooling::kSum);
  EXPECT_EQ(ec.features()[2].pooling, Pooling::kMean);
  Rng rng(1);
  ec.Build(rng);
  std::vector<Variable*> vars = ec.Variables();
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars[0]->name, "embedding/t");
  EXPECT_EQ(vars[1]->name, "embedding/u");
  EXPECT_TRUE(vars[0]->sparse);
  EXPECT_EQ(vars[0]->value.shape(), (std::vector<int64_t>{4, 2}));
  EXPECT_EQ(vars[1]->value.shape(), (std::vector<int64_t>{3, 3}));
  EXPECT_EQ(vars[0]->l2, 0.5f);
  EXPECT_EQ(vars[1]->l2, 0.0f);
}

TEST(EmbeddingCollection, RejectsInvalidConfigs) {
  using T = std::vector<TableConfig>;
  using F = std::vector<FeatureConfig>;
  ExpectInvalid(
      [] {
        EmbeddingCollection({{"t", 4, 2}, {"t", 5, 2}}, F{{"a", "t"}});
      },
      "'t' twice");
  ExpectInvalid([] { EmbeddingCollection(T{{"t", 4, 2}}, {{"a", "t"}, {"a", "t"}}); }, "'a' twice");
  ExpectInvalid(
      [] {
        EmbeddingCollection(T{{"t", 4, 2}}, F{{"a", "x"}});
      },
      "'a' reads embedding table 'x', which does not exist (tables: t)");
  ExpectInvalid(
      [] {
        EmbeddingCollection(T{{"t", 0, 2}}, F{{"a", "t"}});
      },
      "vocabulary_size must be > 0, got 0");
  ExpectInvalid(
      [] {
        EmbeddingCollection(T{{"t", 4, -1}}, F{{"a", "t"}});
      },
      "dim must be > 0, got -1");
  ExpectInvalid(
      [] {
        EmbeddingCollection(T{{"t", 4, 2, -0.1}}, F{{"a", "t"}});
      },
      "init_stddev must be finite and >= 0");
  ExpectInvalid(
      [] {
        EmbeddingCollection(T{{"t", 4, 2, 0, -1.0f}}, F{{"a", "t"}});
      },
      "l2 must be finite and >= 0");
  ExpectInvalid([] { EmbeddingCollection(T{{"", 4, 2}}, F{{"a", ""}}); }, "non-empty");
}

TEST(EmbeddingCollection, InitializesTruncatedNormalWithDefaultStddev) {
  for (double configured : {0.0, 0.05}) {
    EmbeddingCollection ec({{"t", 4000, 16, configured}}, {{"a", "t"}});
    Rng rng(7);
    ec.Build(rng);
    const Tensor& w = ec.Variables()[0]->value;
    const double stddev = configured > 0 ? configured : 0.25;  // 1/sqrt(16)
    double sum = 0, sum2 = 0, max_abs = 0;
    for (int64_t i = 0; i < w.size(); ++i) {
      sum += w[i];
      sum2 += double(w[i]) * w[i];
      max_abs = std::max(max_abs, std::fabs(double(w[i])));
    }
    const double n = static_cast<double>(w.size());
    const double mean = sum / n;
    const double sd = std::sqrt(sum2 / n - mean * mean);
    EXPECT_LE(max_abs, 2 * stddev * (1 + 1e-6));
    EXPECT_GT(max_abs, 1.9 * stddev);
    EXPECT_NEAR(mean, 0.0, 0.02 * stddev);
    // The standard deviation of a normal truncated at 2 sigma is 0.8796 sigma.
    EXPECT_NEAR(sd, 0.8796 * stddev, 0.01 * stddev);
  }
}

TEST(EmbeddingCollection, InitializationIsReproducibleFromTheSeed) {
  EmbeddingCollection a({{"t", 10, 4}}, {{"f", "t"}});
  EmbeddingCollection b({{"t", 10, 4}}, {{"f", "t"}});
  Rng ra(42), rb(42), rc(43);
  a.Build(ra);
  b.Build(rb);
  EXPECT_EQ(a.Variables()[0]->value.ToVector(), b.Variables()[0]->value.ToVector());
  b.Build(rc);
  EXPECT_NE(a.Variables()[0]->value.ToVector(), b.Variables()[0]->value.ToVector());
}

// Loading a model allocates the tables without drawing them; the rng moves on exactly as when
// they are drawn, so whatever is built after the tables gets the same values.
TEST(EmbeddingCollection, SkipInitialDrawAllocatesZerosAndConsumesTheSameDraws) {
  EmbeddingCollection drawn({{"t", 5000, 4}, {"u", 3, 2}}, {{"f", "t"}, {"g", "u"}});
  EmbeddingCollection zeros({{"t", 5000, 4}, {"u", 3, 2}}, {{"f", "t"}, {"g", "u"}});
  zeros.SkipInitialDraw();
  Rng ra(42), rb(42);
  drawn.Build(ra);
  zeros.Build(rb);
  for (size_t t = 0; t < 2; ++t) {
    const Tensor& d = drawn.Variables()[t]->value;
    const Tensor& z = zeros.Variables()[t]->value;
    EXPECT_EQ(d.shape(), z.shape());
    EXPECT_EQ(z.ToVector(), std::vector<float>(static_cast<size_t>(d.size()), 0.0f));
    EXPECT_NE(d.ToVector(), z.ToVector());
  }
  EXPECT_EQ(ra.NextU64(), rb.NextU64());
}

// A rank of hybrid-parallel training draws only its rows; they must be Build's, bit for bit,
// for ranges that start and end inside the 4096-row blocks of the random streams.
TEST(EmbeddingCollection, InitialRowsOfAnyRangeAreBuildsRows) {
  const std::vector<TableConfig> tables = {{"a", 30, 2}, {"b", 10000, 3}};
  EmbeddingCollection whole(tables, {{"f", "a"}, {"g", "b"}});
  Rng rng(7);
  whole.Build(rng);
  const uint64_t seed = Rng(7).NextU64();
  for (const auto& [t, begin, end] :
       std::vector<std::tuple<size_t, int64_t, int64_t>>{{0, 0, 30},
                                                         {0, 11, 12},
                                                         {1, 0, 10000},
                                                         {1, 4000, 8200},
                                                         {1, 5000, 5001},
                                                         {1, 9999, 10000}}) {
    const Tensor& full = whole.Variables()[t]->value;
    std::vector<float> rows(static_cast<size_t>((end - begin) * tables[t].dim));
    EmbeddingCollection::InitialRows(tables[t], t, seed, begin, end, rows.data());
    EXPECT_EQ(std::memcmp(rows.data(), full.row(begin), sizeof(float) * rows.size()), 0)
        << "table " << t << " rows [" << begin << ", " << end << ")";
  }
}

TEST(EmbeddingCollection, PoolsHandComputedBagsPerFeature) {
  EmbeddingCollection ec = SharedCollection();
  std::vector<Variable*> vars = ec.Variables();
  SetTable(vars[0], {1, 2, 3, -1, 0.5f, 4, -2, 1});
  SetTable(vars[1], {1, 0, 0, 0, 1, 0, 0, 0, 1});
  // a (sqrtn, weighted): [1 (w 2)], [0 (w 3), 3 (w 4)]  b (sum): [], [2, 2]  c (mean): [0, 1], [2]
  std::vector<SparseFeature> in = {Bags({1, 0, 3}, {0, 1, 3}, {2, 3, 4}), Bags({2, 2}, {0, 0, 2}),
                                   Bags({0, 1, 2}, {0, 2, 3})};
  std::vector<Tensor> out;
  ec.Forward(in, &out, /*training=*/false);
  ASSERT_EQ(out.size(), 3u);
  // a: ex0 = 2 (3, -1) / 2; ex1 = (3 (1, 2) + 4 (-2, 1)) / 5 = (-1, 2).
  ExpectTensor(out[0], {2, 2}, {3, -1, -1, 2});
  ExpectTensor(out[1], {2, 2}, {0, 0, 1, 8});
  ExpectTensor(out[2], {2, 3}, {0.5f, 0.5f, 0, 0, 0, 1});
}

TEST(EmbeddingCollection, SharedTableAccumulatesGradientsOnTheSameRows) {
  EmbeddingCollection ec = SharedCollection();
  // a (sqrtn) and b (sum) both read row 2 of table t; b reads it twice in one bag.
  std::vector<SparseFeature> in = {Bags({2, 0}, {0, 1, 2}), Bags({2, 2, 1}, {0, 2, 3}),
                                   Bags({}, {0, 0, 0})};
  std::vector<Tensor> out;
  ec.Forward(in, &out, true);
  std::vector<Tensor> d = {Tensor({2, 2}, {1, 2, 3, 4}), Tensor({2, 2}, {10, 20, 30, 40}),
                           Tensor({2, 3})};
  for (Variable* v : ec.Variables()) v->ZeroGrad();
  ec.Backward(d);
  const RowSparseGrad& g = ec.Variables()[0]->sparse_grad;
  EXPECT_EQ(g.ids, (std::vector<int64_t>{0, 1, 2}));
  // Row 0: a ex1 (3, 4). Row 1: b ex1 (30, 40). Row 2: a ex0 (1, 2) + 2 * b ex0 (10, 20).
  ExpectTensor(g.rows, {3, 2}, {3, 4, 30, 40, 21, 42});
  // Table u: feature c has only empty bags, so no rows.
  EXPECT_TRUE(ec.Variables()[1]->sparse_grad.ids.empty());
  EXPECT_EQ(ec.Variables()[1]->sparse_grad.rows.shape(), (std::vector<int64_t>{0, 3}));
}

TEST(EmbeddingCollection, BackwardAccumulatesIntoExistingSparseGradient) {
  EmbeddingCollection ec({{"t", 6, 2}}, {{"a", "t", Pooling::kSum}});
  Rng rng(1);
  ec.Build(rng);
  std::vector<Tensor> out;
  std::vector<Tensor> d = {Tensor({1, 2}, {1, 2})};
  ec.Variables()[0]->ZeroGrad();
  std::vector<SparseFeature> first = {Bags({4, 1}, {0, 2})};
  ec.Forward(first, &out, true);
  ec.Backward(d);
  std::vector<SparseFeature> second = {Bags({5, 1}, {0, 2})};
  ec.Forward(second, &out, true);
  ec.Backward(d);
  const RowSparseGrad& g = ec.Variables()[0]->sparse_grad;
  EXPECT_EQ(g.ids, (std::vector<int64_t>{1, 4, 5}));
  ExpectTensor(g.rows, {3, 2}, {2, 4, 1, 2, 1, 2});
  ec.Variables()[0]->ZeroGrad();
  EXPECT_TRUE(g.ids.empty());
}

TEST(EmbeddingCollection, BatchOfOne) {
  EmbeddingCollection ec({{"t", 3, 2}}, {{"a", "t"}});
  Rng rng(1);
  ec.Build(rng);
  SetTable(ec.Variables()[0], {1, 2, 3, 4, 5, 6});
  std::vector<SparseFeature> in = {Bags({0, 2}, {0, 2})};
  std::vector<Tensor> out;
  ec.Forward(in, &out, true);
  ExpectTensor(out[0], {1, 2}, {3, 4});
  ec.Variables()[0]->ZeroGrad();
  ec.Backward({Tensor({1, 2}, {2, -4})});
  EXPECT_EQ(ec.Variables()[0]->sparse_grad.ids, (std::vector<int64_t>{0, 2}));
  ExpectTensor(ec.Variables()[0]->sparse_grad.rows, {2, 2}, {1, -2, 1, -2});
}

TEST(EmbeddingCollection, EmptyAndZeroWeightBagsGiveZeros) {
  for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
    EmbeddingCollection ec({{"t", 3, 2}}, {{"a", "t", p}});
    Rng rng(1);
    ec.Build(rng);
    std::vector<SparseFeature> in = {Bags({1, 2}, {0, 0, 2, 2}, {0, 0})};
    std::vector<Tensor> out;
    ec.Forward(in, &out, false);
    ExpectTensor(out[0], {3, 2}, {0, 0, 0, 0, 0, 0});
  }
}

// Finite differences over every entry of the tables (used rows and unused ones) against the
// dense view of the sparse gradient; rows the batch does not read have no entry.
TEST(EmbeddingCollection, GradientsMatchFiniteDifferencesForEveryPooling) {
  for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
    for (bool weighted : {false, true}) {
      EmbeddingCollection ec({{"t", 8, 3}, {"u", 5, 4}},
                             {{"f0", "t", p}, {"f1", "u", p}, {"f2", "t", Pooling::kMean}});
      Rng rng(9);
      ec.Build(rng);
      // f0: rows 0..4 (6 and 7 unused; 5 read by f2 only); f1 multi-hot with a repeat.
      std::vector<SparseFeature> in = {Bags({0, 1, 1, 2, 3, 4}, {0, 1, 3, 3, 6}),
                                       Bags({0, 3, 3, 1, 4}, {0, 3, 3, 4, 5}),
                                       Bags({5, 0}, {0, 1, 1, 1, 2})};
      if (weighted) {
        in[0].weights = {0.5f, 1.5f, 2, 1, 0.25f, 3};
        in[1].weights = {1, 2, 0.5f, 4, 1};
      }
      std::vector<Tensor> out;
      std::vector<testing::ProjectionLoss> proj;
      for (int64_t dim : ec.OutputDims()) proj.emplace_back(std::vector<int64_t>{4, dim}, 31 + dim);
      auto loss = [&] {
        ec.Forward(in, &out, true);
        double s = 0;
        for (size_t i = 0; i < out.size(); ++i) s += proj[i](out[i]);
        return s;
      };
      loss();
      for (Variable* v : ec.Variables()) v->ZeroGrad();
      ec.Backward({proj[0].Gradient(), proj[1].Gradient(), proj[2].Gradient()});
      std::vector<Variable*> vars = ec.Variables();
      EXPECT_EQ(vars[0]->sparse_grad.ids, (std::vector<int64_t>{0, 1, 2, 3, 4, 5}));
      EXPECT_EQ(vars[1]->sparse_grad.ids, (std::vector<int64_t>{0, 1, 3, 4}));
      for (Variable* v : vars) {
        const std::vector<float> dense = Dense(*v);
        testing::GradCheckOptions opts;
        opts.samples = static_cast<int>(v->value.size());
        testing::ExpectGradientMatches(
            loss, v->value.data(), dense.data(), v->value.size(),
            v->name + " " + std::string(PoolingName(p)) + (weighted ? " weighted" : ""), opts);
      }
    }
  }
}

TEST(EmbeddingCollection, ValidationErrorsSayWhatWasExpected) {
  EmbeddingCollection ec({{"t", 100, 2}, {"C3", 100, 2}},
                         {{"C1", "t"}, {"C2", "t"}, {"C3", "C3"}, {"C4", "t"}});
  Rng rng(1);
  ec.Build(rng);
  std::vector<Tensor> out;
  auto good = [] {
    return std::vector<SparseFeature>{Bags({1, 2}, {0, 1, 2}), Bags({3}, {0, 0, 1}),
                                      Bags({4, 5, 6}, {0, 2, 3}), Bags({}, {0, 0, 0})};
  };
  auto expect = [&](std::vector<SparseFeature> in, const std::string& what) {
    ExpectInvalid([&] { ec.Validate(in); }, what);
    ExpectInvalid([&] { ec.Forward(in, &out, true); }, what);
  };
  EXPECT_NO_THROW(ec.Validate(good()));

  std::vector<SparseFeature> in = good();
  in.pop_back();
  expect(in, "expected 4 sparse features (C1, C2, ...), got 3");
  in = good();
  in[0].offsets.clear();
  expect(in, "feature 'C1': expected B+1 offsets for a batch of B examples, got none");
  in = good();
  in[2].offsets = {0, 3};
  in[2].ids = {4, 5, 6};
  expect(in, "feature 'C3': expected 3 offsets (batch size 2, as feature 'C1'), got 2");
  in = good();
  in[1].offsets = {1, 1, 1};
  expect(in, "feature 'C2': offsets[0] must be 0, got 1");
  in = good();
  in[2].offsets = {0, 3, 2};
  expect(in,
         "feature 'C3', example 1: offsets must be non-decreasing, got offsets[2] = 2 after "
         "offsets[1] = 3");
  in = good();
  in[2].offsets = {0, 1, 2};
  expect(in, "feature 'C3': offsets[B] (B = 2) must equal the number of ids 3, got 2");
  in = good();
  in[0].weights = {1};
  expect(in, "feature 'C1': expected 0 or 2 weights (one per id), got 1");
  in = good();
  in[2].weights = {1, -1, 1};
  expect(in, "feature 'C3', example 0: weights must be finite and >= 0, got -1 for id 5");
  in = good();
  in[2].weights = {1, 1, std::numeric_limits<float>::quiet_NaN()};
  expect(in, "feature 'C3', example 1: weights must be finite and >= 0, got nan for id 6");
  in = good();
  in[2].weights = {1, 1, std::numeric_limits<float>::infinity()};
  expect(in, "weights must be finite and >= 0, got inf");
  in = good();
  in[2].ids = {4, 5, 100};
  expect(in, "feature 'C3', example 1: id 100 is outside table 'C3' with 100 rows");
  in = good();
  in[1].ids = {-1};
  expect(in, "feature 'C2', example 1: id -1 is outside table 't' with 100 rows");
}

TEST(EmbeddingCollection, MisuseThrowsInvalidArgument) {
  EmbeddingCollection ec({{"t", 4, 2}}, {{"a", "t"}});
  std::vector<SparseFeature> in = {Bags({1}, {0, 1})};
  std::vector<Tensor> out;
  ExpectInvalid([&] { ec.Forward(in, &out, true); }, "called before Build");
  Rng rng(1);
  ec.Build(rng);
  ExpectInvalid([&] { ec.Backward({Tensor({1, 2})}); }, "preceding Forward with training = true");
  ec.Forward(in, &out, false);
  ExpectInvalid([&] { ec.Backward({Tensor({1, 2})}); }, "preceding Forward with training = true");
  ec.Forward(in, &out, true);
  ExpectInvalid([&] { ec.Backward({}); }, "expected 1 output gradients (a), got 0");
  ExpectInvalid(
      [&] {
        ec.Backward({Tensor({2, 2})});
      },
      "feature 'a': expected an output gradient of shape (1, 2), got (2, 2)");
}

// Everything a step produces, for bitwise comparison.
struct StepResult {
  std::vector<std::vector<float>> outputs;
  std::vector<std::vector<int64_t>> ids;
  std::vector<std::vector<float>> rows;
};

StepResult RunStep(int threads) {
  SetComputeThreads(threads);
  EmbeddingCollection ec({{"t", 3000, 16}, {"u", 500, 7}},
                         {{"a", "t", Pooling::kSum}, {"b", "t"}, {"c", "u", Pooling::kSqrtn}});
  Rng rng(2);
  ec.Build(rng);
  const int64_t batch = 4096;
  std::vector<SparseFeature> in(3);
  Rng data(3);
  for (size_t i = 0; i < in.size(); ++i) {
    const int64_t vocab = i == 2 ? 500 : 3000;
    in[i].offsets = {0};
    for (int64_t b = 0; b < batch; ++b) {
      const uint64_t len = data.UniformInt(5);
      for (uint64_t k = 0; k < len; ++k) {
        in[i].ids.push_back(static_cast<int64_t>(data.UniformInt(static_cast<uint64_t>(vocab))));
        if (i != 0) in[i].weights.push_back(data.UniformFloat());
      }
      in[i].offsets.push_back(static_cast<int64_t>(in[i].ids.size()));
    }
  }
  std::vector<Tensor> out;
  ec.Forward(in, &out, true);
  std::vector<Tensor> d;
  for (size_t i = 0; i < out.size(); ++i) {
    d.emplace_back(out[i].shape());
    for (int64_t j = 0; j < d[i].size(); ++j) d[i][j] = std::sin(0.1f * static_cast<float>(j + i));
  }
  for (Variable* v : ec.Variables()) v->ZeroGrad();
  ec.Backward(d);
  StepResult r;
  for (const Tensor& t : out) r.outputs.push_back(t.ToVector());
  for (Variable* v : ec.Variables()) {
    r.ids.push_back(v->sparse_grad.ids);
    r.rows.push_back(v->sparse_grad.rows.ToVector());
  }
  return r;
}

TEST(EmbeddingCollection, BitIdenticalWithOneAndTwoThreads) {
  const int saved = ComputeThreads();
  const StepResult one = RunStep(1);
  const StepResult two = RunStep(2);
  SetComputeThreads(saved);
  ASSERT_EQ(one.outputs.size(), two.outputs.size());
  for (size_t i = 0; i < one.outputs.size(); ++i) {
    ASSERT_EQ(one.outputs[i].size(), two.outputs[i].size());
    EXPECT_EQ(std::memcmp(one.outputs[i].data(), two.outputs[i].data(),
                          one.outputs[i].size() * sizeof(float)),
              0)
        << "output " << i;
  }
  ASSERT_EQ(one.ids, two.ids);
  for (size_t t = 0; t < one.rows.size(); ++t) {
    EXPECT_FALSE(one.ids[t].empty());
    ASSERT_EQ(one.rows[t].size(), two.rows[t].size());
    EXPECT_EQ(
        std::memcmp(one.rows[t].data(), two.rows[t].data(), one.rows[t].size() * sizeof(float)), 0)
        << "gradient of table " << t;
  }
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

// Forward and Backward at thread counts and batch sizes that take both paths (small batches:
// whole tables spread over the threads in one region; large ones: each table's own loops split
// over the threads) give bit-identical outputs and gradients.
TEST(EmbeddingCollection, ResultsDoNotDependOnTheThreadCountOrPath) {
  constexpr int kTables = 12;
  std::vector<TableConfig> tables;
  std::vector<FeatureConfig> features;
  for (int t = 0; t < kTables; ++t) {
    tables.push_back({"t" + std::to_string(t), 3000, 16});
    features.push_back({"f" + std::to_string(t), "t" + std::to_string(t),
                        t % 3 == 0   ? Pooling::kSum
                        : t % 3 == 1 ? Pooling::kMean
                                     : Pooling::kSqrtn});
  }
  const int saved = ComputeThreads();
  for (const int64_t batch : {64, 1500}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    Rng data_rng(5);
    std::vector<SparseFeature> in(kTables);
    std::vector<Tensor> d(kTables);
    for (int t = 0; t < kTables; ++t) {
      SparseFeature& f = in[static_cast<size_t>(t)];
      f.offsets.push_back(0);
      for (int64_t b = 0; b < batch; ++b) {
        const int64_t bag = static_cast<int64_t>(data_rng.UniformFloat() * 3);  // 0..2 ids
        for (int64_t k = 0; k < bag; ++k) {
          f.ids.push_back(static_cast<int64_t>(data_rng.UniformFloat() * 3000));
        }
        f.offsets.push_back(static_cast<int64_t>(f.ids.size()));
      }
      d[static_cast<size_t>(t)] = Tensor({batch, 16});
      for (int64_t i = 0; i < batch * 16; ++i) {
        d[static_cast<size_t>(t)][i] = data_rng.UniformFloat();
      }
    }
    std::vector<std::vector<std::vector<float>>> outputs, grads;
    for (const int threads : {1, 2, 8}) {
      SetComputeThreads(threads);
      EmbeddingCollection ec(tables, features);
      Rng rng(1);
      ec.Build(rng);
      std::vector<Tensor> out;
      ec.Forward(in, &out, true);
      outputs.emplace_back();
      for (const Tensor& o : out) outputs.back().emplace_back(o.data(), o.data() + o.size());
      for (Variable* v : ec.Variables()) v->ZeroGrad();
      ec.Backward(d);
      grads.emplace_back();
      for (Variable* v : ec.Variables()) grads.back().push_back(Dense(*v));
    }
    EXPECT_EQ(outputs[0], outputs[1]);
    EXPECT_EQ(outputs[0], outputs[2]);
    EXPECT_EQ(grads[0], grads[1]);
    EXPECT_EQ(grads[0], grads[2]);
  }
  SetComputeThreads(saved);
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

// A collection of two tables (one read by two features) stored in `precision`, built from seed 7.
EmbeddingCollection TwoTables(EmbeddingPrecision precision) {
  EmbeddingCollection c({{.name = "a", .vocabulary_size = 40, .dim = 16, .precision = precision},
                         {.name = "b", .vocabulary_size = 30, .dim = 6, .precision = precision}},
                        {{.name = "f0", .table = "a", .pooling = Pooling::kSum},
                         {.name = "f1", .table = "a", .pooling = Pooling::kMean},
                         {.name = "f2", .table = "b", .pooling = Pooling::kSqrtn}});
  Rng rng(7);
  c.Build(rng);
  return c;
}

TEST(EmbeddingCollection, SixteenBitTablesAreTheFp32TablesRoundedAndPoolAsTheirWidenedValues) {
  const std::vector<SparseFeature> input = {
      Bags({0, 5, 39, 5}, {0, 1, 4, 4}, {1.0f, 0.5f, 2.0f, 1.0f}), Bags({3, 3, 12}, {0, 2, 2, 3}),
      Bags({29, 0, 1, 2}, {0, 1, 3, 4}, {1.0f, 0.25f, 3.0f, 0.0f})};
  for (const EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    SCOPED_TRACE(std::string(EmbeddingPrecisionName(p)));
    EmbeddingCollection full = TwoTables(EmbeddingPrecision::kFp32);
    EmbeddingCollection half = TwoTables(p);
    std::vector<Variable*> fv = full.Variables(), hv = half.Variables();
    for (size_t t = 0; t < fv.size(); ++t) {
      // Half the bytes: the 16-bit values only, the fp32 tensor empty.
      EXPECT_EQ(hv[t]->precision, p);
      EXPECT_TRUE(hv[t]->value.empty());
      ASSERT_EQ(hv[t]->shape(), fv[t]->value.shape());
      // Build rounds the fp32 initial values to nearest.
      std::vector<uint16_t> rounded(static_cast<size_t>(fv[t]->value.size()));
      NarrowRowNearest(p, fv[t]->value.data(), fv[t]->value.size(), rounded.data());
      EXPECT_EQ(0, std::memcmp(rounded.data(), hv[t]->value16.data(), 2 * rounded.size()));
      // Give the fp32 collection the widened table.
      WidenRow(p, hv[t]->value16.data(), hv[t]->size(), fv[t]->value.data());
    }
    std::vector<Tensor> want, got, predicted;
    full.Forward(input, &want, true);
    half.Forward(input, &got, true);
    half.Predict(input, &predicted, nullptr);
    ASSERT_EQ(want.size(), got.size());
    for (size_t i = 0; i < want.size(); ++i) {
      ASSERT_EQ(want[i].shape(), got[i].shape());
      EXPECT_EQ(0, std::memcmp(want[i].data(), got[i].data(), 4 * want[i].size())) << i;
      EXPECT_EQ(0, std::memcmp(want[i].data(), predicted[i].data(), 4 * want[i].size())) << i;
    }
    // Backward is the fp32 one: the same row-sparse gradients.
    std::vector<Tensor> d;
    for (const Tensor& w : want) {
      Tensor g(w.shape());
      for (int64_t k = 0; k < g.size(); ++k) g[k] = 0.1f * static_cast<float>(k % 7) - 0.2f;
      d.push_back(std::move(g));
    }
    full.Backward(d);
    half.Backward(d);
    for (size_t t = 0; t < fv.size(); ++t) {
      EXPECT_EQ(fv[t]->sparse_grad.ids, hv[t]->sparse_grad.ids);
      EXPECT_EQ(fv[t]->sparse_grad.rows.ToVector(), hv[t]->sparse_grad.rows.ToVector());
    }
    // Out-of-range ids are refused as for fp32 tables.
    std::vector<SparseFeature> bad = input;
    bad[2].ids[0] = 30;
    EXPECT_THROW(half.Forward(bad, &got, false), InvalidArgument);
  }
}

}  // namespace
}  // namespace crank
