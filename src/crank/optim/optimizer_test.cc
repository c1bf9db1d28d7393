#include "crank/optim/optimizer.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

Variable Dense(const std::string& name, const std::vector<int64_t>& shape,
               const std::vector<float>& values) {
  Variable v;
  v.name = name;
  v.value = Tensor(shape, values);
  v.grad = Tensor(shape);
  return v;
}

void SetGrad(Variable& v, const std::vector<float>& g) { v.grad = Tensor(v.value.shape(), g); }

// A (V, E) table with distinct, deterministic values.
Variable Table(const std::string& name, int64_t num_rows, int64_t dim) {
  Variable v;
  v.name = name;
  v.sparse = true;
  v.value = Tensor({num_rows, dim});
  for (int64_t i = 0; i < v.value.size(); ++i) {
    v.value[i] = 0.05f * static_cast<float>(i % 13) - 0.3f;
  }
  v.sparse_grad.rows = Tensor({0, dim});
  return v;
}

void SetSparseGrad(Variable& v, const std::vector<int64_t>& ids, const std::vector<float>& rows) {
  v.sparse_grad.ids = ids;
  v.sparse_grad.rows = Tensor({static_cast<int64_t>(ids.size()), v.value.dim(1)}, rows);
}

// The state tensors of `opt` whose names start with prefix, keyed by the rest of the name.
std::map<std::string, Tensor*> Slots(Optimizer& opt, const std::string& prefix) {
  std::map<std::string, Tensor*> out;
  for (auto& [name, t] : opt.StateTensors()) {
    if (name.rfind(prefix, 0) == 0) out[name.substr(prefix.size())] = t;
  }
  return out;
}

// Expects fn to throw E whose message contains `needle`.
template <typename E, typename Fn>
void ExpectThrowsWith(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

// --- SGD -------------------------------------------------------------------------------------

TEST(Sgd, SubtractsLearningRateTimesGradient) {
  auto opt = MakeSgd({.learning_rate = 0.1f});
  Variable w = Dense("w", {3}, {1.0f, -2.0f, 3.0f});
  SetGrad(w, {0.5f, 0.25f, -1.0f});
  opt->Apply({&w});
  EXPECT_NEAR(w.value[0], 0.95f, 1e-6f);
  EXPECT_NEAR(w.value[1], -2.025f, 1e-6f);
  EXPECT_NEAR(w.value[2], 3.1f, 1e-6f);
  opt->Apply({&w});
  EXPECT_NEAR(w.value[0], 0.9f, 1e-6f);
  EXPECT_NEAR(w.value[1], -2.05f, 1e-6f);
  EXPECT_NEAR(w.value[2], 3.2f, 1e-6f);
  EXPECT_TRUE(opt->StateTensors().empty());
  EXPECT_EQ(opt->iterations(), 2);
  EXPECT_EQ(opt->Describe(), "sgd(lr=0.1)");
}

TEST(Sgd, MomentumAccumulatesVelocity) {
  // m = 0.9 m - 0.1 g; w += m.
  auto opt = MakeSgd({.learning_rate = 0.1f, .momentum = 0.9f});
  Variable w = Dense("w", {1}, {1.0f});
  SetGrad(w, {1.0f});
  opt->Apply({&w});  // m = -0.1
  EXPECT_NEAR(w.value[0], 0.9f, 1e-6f);
  opt->Apply({&w});  // m = -0.09 - 0.1 = -0.19
  EXPECT_NEAR(w.value[0], 0.71f, 1e-6f);
  SetGrad(w, {0.5f});
  opt->Apply({&w});  // m = -0.171 - 0.05 = -0.221
  EXPECT_NEAR(w.value[0], 0.489f, 1e-6f);
  EXPECT_NEAR((*Slots(*opt, "w/").at("momentum"))[0], -0.221f, 1e-6f);
  EXPECT_EQ(opt->Describe(), "sgd(lr=0.1, momentum=0.9, nesterov=false)");
}

TEST(Sgd, NesterovLooksAhead) {
  // m = 0.9 m - 0.1 g; w += 0.9 m - 0.1 g.
  auto opt = MakeSgd({.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true});
  Variable w = Dense("w", {1}, {1.0f});
  SetGrad(w, {1.0f});
  opt->Apply({&w});  // m = -0.1; w = 1 - 0.09 - 0.1
  EXPECT_NEAR(w.value[0], 0.81f, 1e-6f);
  opt->Apply({&w});  // m = -0.19; w = 0.81 - 0.171 - 0.1
  EXPECT_NEAR(w.value[0], 0.539f, 1e-6f);
  SetGrad(w, {0.5f});
  opt->Apply({&w});  // m = -0.221; w = 0.539 - 0.1989 - 0.05
  EXPECT_NEAR(w.value[0], 0.2901f, 1e-6f);
}

TEST(Sgd, RejectsInvalidOptions) {
  EXPECT_THROW(MakeSgd({.momentum = 1.0f}), InvalidArgument);
  EXPECT_THROW(MakeSgd({.momentum = -0.1f}), InvalidArgument);
  EXPECT_THROW(MakeSgd({.nesterov = true}), InvalidArgument);
  EXPECT_THROW(MakeSgd({.learning_rate = -1.0f}), InvalidArgument);
}

// --- Adagrad ---------------------------------------------------------------------------------

TEST(Adagrad, MatchesKerasFormula) {
  // acc = 0.1 + g^2; w -= 0.1 g / (sqrt(acc) + 1e-7).
  auto opt = MakeAdagrad({.learning_rate = 0.1f});
  Variable w = Dense("w", {2}, {1.0f, 1.0f});
  SetGrad(w, {1.0f, 0.0f});
  opt->Apply({&w});  // acc = 1.1
  EXPECT_NEAR(w.value[0], 0.90465375f, 1e-6f);
  EXPECT_EQ(w.value[1], 1.0f);
  SetGrad(w, {2.0f, 0.0f});
  opt->Apply({&w});  // acc = 5.1
  EXPECT_NEAR(w.value[0], 0.81609227f, 1e-6f);
  Tensor* acc = Slots(*opt, "w/").at("accumulator");
  EXPECT_NEAR((*acc)[0], 5.1f, 1e-6f);
  EXPECT_FLOAT_EQ((*acc)[1], 0.1f);
  EXPECT_EQ(opt->Describe(), "adagrad(lr=0.1, initial_accumulator=0.1, epsilon=1e-07)");
}

TEST(Adagrad, RejectsInvalidOptions) {
  EXPECT_THROW(MakeAdagrad({.initial_accumulator_value = -1.0f}), InvalidArgument);
  EXPECT_THROW(MakeAdagrad({.epsilon = -1.0f}), InvalidArgument);
}

// --- Row-wise Adagrad ------------------------------------------------------------------------

TEST(RowWiseAdagrad, AccumulatesTheMeanSquaredGradientPerRow) {
  // acc += mean(g^2); w -= 0.1 / (sqrt(acc) + 1e-8) * g.
  auto opt = MakeRowWiseAdagrad({.learning_rate = 0.1f});
  Variable w = Dense("w", {2, 3}, {1, 2, 3, 4, 5, 6});
  SetGrad(w, {1, 2, 3, 0, 0, 0});
  opt->Apply({&w});  // acc[0] = 14 / 3; multiplier 0.046291005
  EXPECT_NEAR(w.value[0], 0.95370900f, 1e-6f);
  EXPECT_NEAR(w.value[1], 1.90741799f, 1e-6f);
  EXPECT_NEAR(w.value[2], 2.86112699f, 1e-6f);
  EXPECT_EQ(w.value[3], 4.0f);
  SetGrad(w, {0, 0, 3, 0, 0, 0});
  opt->Apply({&w});  // acc[0] = 14 / 3 + 3
  EXPECT_NEAR(w.value[0], 0.95370900f, 1e-6f);
  EXPECT_NEAR(w.value[2], 2.75277972f, 1e-6f);
  Tensor* acc = Slots(*opt, "w/").at("accumulator");
  ASSERT_EQ(acc->shape(), std::vector<int64_t>({2}));
  EXPECT_NEAR((*acc)[0], 7.6666667f, 1e-5f);
  EXPECT_EQ((*acc)[1], 0.0f);
}

TEST(RowWiseAdagrad, GivesARankOneVariableOneAccumulatorPerElement) {
  auto opt = MakeRowWiseAdagrad({.learning_rate = 0.1f});
  Variable b = Dense("b", {3}, {0, 0, 0});
  SetGrad(b, {1, 2, 0});
  opt->Apply({&b});
  Tensor* acc = Slots(*opt, "b/").at("accumulator");
  ASSERT_EQ(acc->shape(), std::vector<int64_t>({3}));
  EXPECT_FLOAT_EQ((*acc)[0], 1.0f);
  EXPECT_FLOAT_EQ((*acc)[1], 4.0f);
  EXPECT_NEAR(b.value[0], -0.1f, 1e-6f);  // -0.1 * 1 / 1
  EXPECT_NEAR(b.value[1], -0.1f, 1e-6f);  // -0.1 * 2 / 2
  EXPECT_EQ(b.value[2], 0.0f);
}

// --- Adam ------------------------------------------------------------------------------------

TEST(Adam, AppliesBiasCorrection) {
  // t = 1: m = 0.1, v = 0.001, alpha = 0.1 sqrt(0.001) / 0.1 -> a step of ~lr, not the
  // uncorrected 0.1 * 0.1 / sqrt(0.001) = 0.316.
  auto opt = MakeAdam({.learning_rate = 0.1f});
  Variable w = Dense("w", {1}, {1.0f});
  SetGrad(w, {1.0f});
  opt->Apply({&w});
  EXPECT_NEAR(w.value[0], 0.90000032f, 1e-6f);
  // t = 2: m = 0.14, v = 0.001249, alpha = 0.1 sqrt(1 - 0.999^2) / (1 - 0.9^2).
  SetGrad(w, {0.5f});
  opt->Apply({&w});
  EXPECT_NEAR(w.value[0], 0.80678262f, 1e-6f);
  auto slots = Slots(*opt, "w/");
  EXPECT_NEAR((*slots.at("m"))[0], 0.14f, 1e-7f);
  EXPECT_NEAR((*slots.at("v"))[0], 0.001249f, 5e-8f);  // 1 - 0.999f rounds in float32
  EXPECT_EQ(opt->Describe(), "adam(lr=0.1, beta_1=0.9, beta_2=0.999, epsilon=1e-07)");
}

TEST(Adam, UsesTheStepCountForBiasCorrectionAfterARestore) {
  // With iterations() = 999 the correction factors are ~1: the step is m / sqrt(v) * lr.
  auto opt = MakeAdam({.learning_rate = 0.1f});
  opt->set_iterations(999);
  Variable w = Dense("w", {1}, {1.0f});
  SetGrad(w, {1.0f});
  opt->Apply({&w});
  const double alpha = 0.1 * std::sqrt(1.0 - std::pow(0.999, 1000.0)) / (1.0 - std::pow(0.9, 1000));
  EXPECT_NEAR(w.value[0], 1.0 - alpha * 0.1 / (std::sqrt(0.001) + 1e-7), 1e-6);
  EXPECT_EQ(opt->iterations(), 1000);
}

TEST(Adam, RejectsInvalidOptions) {
  EXPECT_THROW(MakeAdam({.beta_1 = 1.0f}), InvalidArgument);
  EXPECT_THROW(MakeAdam({.beta_2 = -0.5f}), InvalidArgument);
  EXPECT_THROW(MakeAdam({.epsilon = -1.0f}), InvalidArgument);
}

// --- Schedules and step counting --------------------------------------------------------------

// Rate(step) = 0.1 * (step + 1).
class LinearSchedule : public LearningRateSchedule {
 public:
  float Rate(int64_t step) const override { return 0.1f * static_cast<float>(step + 1); }
  std::string Describe() const override { return "linear"; }
};

TEST(Optimizer, UsesTheScheduleRateAtIterationsThenIncrements) {
  auto opt = MakeSgd({}, std::make_unique<LinearSchedule>());
  Variable w = Dense("w", {1}, {0.0f});
  SetGrad(w, {1.0f});
  opt->Apply({&w});  // rate 0.1
  EXPECT_NEAR(w.value[0], -0.1f, 1e-6f);
  opt->Apply({&w});  // rate 0.2
  EXPECT_NEAR(w.value[0], -0.3f, 1e-6f);
  opt->set_iterations(9);
  opt->Apply({&w});  // rate 1.0
  EXPECT_NEAR(w.value[0], -1.3f, 1e-6f);
  EXPECT_EQ(opt->iterations(), 10);
  EXPECT_EQ(opt->Describe(), "sgd(lr=linear)");
  EXPECT_THROW(opt->set_iterations(-1), InvalidArgument);
}

TEST(Optimizer, CountsAnApplyWithAnEmptySparseGradientAsAStep) {
  auto opt = MakeAdagrad({.learning_rate = 0.1f});
  Variable table = Table("table", 4, 2);
  const Tensor before = table.value;
  opt->Apply({&table});
  EXPECT_EQ(table.value.ToVector(), before.ToVector());
  EXPECT_EQ(opt->iterations(), 1);
}

// --- State tensors ---------------------------------------------------------------------------

TEST(Optimizer, StateTensorsAreNamedSortedAndShapedLikeTheirVariables) {
  Variable kernel = Dense("dense/kernel", {2, 3}, {1, 2, 3, 4, 5, 6});
  Variable bias = Dense("dense/bias", {3}, {0, 0, 0});
  Variable table = Table("emb/table", 5, 4);

  auto adam = MakeAdam({});
  EXPECT_TRUE(adam->StateTensors().empty());
  adam->Prepare({&table, &kernel, &bias});
  auto state = adam->StateTensors();
  std::vector<std::string> names;
  for (auto& [name, t] : state) names.push_back(name);
  EXPECT_EQ(names, (std::vector<std::string>{"dense/bias/m", "dense/bias/v", "dense/kernel/m",
                                             "dense/kernel/v", "emb/table/m", "emb/table/v"}));
  EXPECT_EQ(state[0].second->shape(), std::vector<int64_t>({3}));
  EXPECT_EQ(state[2].second->shape(), std::vector<int64_t>({2, 3}));
  EXPECT_EQ(state[4].second->shape(), std::vector<int64_t>({5, 4}));

  auto rowwise = MakeRowWiseAdagrad({});
  rowwise->Prepare({&table});
  auto rw_state = rowwise->StateTensors();
  ASSERT_EQ(rw_state.size(), 1u);
  EXPECT_EQ(rw_state[0].first, "emb/table/accumulator");
  EXPECT_EQ(rw_state[0].second->shape(), std::vector<int64_t>({5}));

  auto adagrad = MakeAdagrad({.initial_accumulator_value = 0.25f});
  adagrad->Prepare({&bias});
  Tensor* acc = adagrad->StateTensors().at(0).second;
  EXPECT_EQ(acc->ToVector(), std::vector<float>({0.25f, 0.25f, 0.25f}));

  auto momentum = MakeSgd({.momentum = 0.5f});
  momentum->Prepare({&kernel});
  EXPECT_EQ(momentum->StateTensors().at(0).first, "dense/kernel/momentum");
}

TEST(Optimizer, SlotsAreCreatedLazilyByApply) {
  auto opt = MakeAdagrad({});
  Variable w = Dense("w", {2}, {1, 1});
  opt->Apply({&w});
  EXPECT_EQ(opt->StateTensors().size(), 1u);
  Variable v = Dense("v", {2}, {1, 1});
  opt->Apply({&w, &v});
  EXPECT_EQ(opt->StateTensors().size(), 2u);
}

TEST(Optimizer, WritingThroughStateTensorsRestoresState) {
  // Restoring an accumulator of 3.9: the next step sees acc = 3.9 + 0.1^2 ... with g = 0.1.
  auto opt = MakeAdagrad({.learning_rate = 1.0f, .epsilon = 0.0f});
  Variable w = Dense("w", {1}, {0.0f});
  opt->Prepare({&w});
  opt->StateTensors().at(0).second->Fill(3.99f);
  SetGrad(w, {0.1f});
  opt->Apply({&w});  // acc = 4; w = -0.1 / 2
  EXPECT_NEAR(w.value[0], -0.05f, 1e-6f);
}

// --- Argument checking -----------------------------------------------------------------------

TEST(Optimizer, RejectsAGradientOfTheWrongShapeAndChangesNothing) {
  auto opt = MakeSgd({.learning_rate = 0.1f});
  Variable good = Dense("good", {2}, {1, 1});
  SetGrad(good, {1, 1});
  Variable bad = Dense("bad", {2}, {1, 1});
  bad.grad = Tensor({3});
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&good, &bad}); }, "'bad'");
  EXPECT_EQ(good.value.ToVector(), std::vector<float>({1, 1}));
  EXPECT_EQ(opt->iterations(), 0);
}

TEST(Optimizer, RejectsBadSparseGradients) {
  auto opt = MakeAdagrad({});
  Variable table = Table("emb", 4, 2);
  SetSparseGrad(table, {1, 4}, {1, 1, 1, 1});  // out of range
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&table}); }, "'emb'");
  SetSparseGrad(table, {2, 1}, {1, 1, 1, 1});  // not ascending
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&table}); }, "ascending");
  SetSparseGrad(table, {1, 1}, {1, 1, 1, 1});  // duplicate
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&table}); }, "unique");
  SetSparseGrad(table, {-1}, {1, 1});  // negative
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&table}); }, "'emb'");
  table.sparse_grad.ids = {0, 1};
  table.sparse_grad.rows = Tensor({2, 3});  // wrong width
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&table}); }, "(2, 2)");
  EXPECT_EQ(opt->iterations(), 0);
}

TEST(Optimizer, RejectsNullAndDuplicateNamedVariables) {
  auto opt = MakeAdagrad({});
  EXPECT_THROW(opt->Apply({nullptr}), InvalidArgument);
  Variable a = Dense("same", {1}, {0});
  Variable b = Dense("same", {1}, {0});
  ExpectThrowsWith<InvalidArgument>([&] { opt->Prepare({&a, &b}); }, "'same'");
}

TEST(Optimizer, RejectsAVariableWhoseShapeChangedAfterItsSlotsWereCreated) {
  auto opt = MakeAdam({});
  Variable w = Dense("w", {2}, {0, 0});
  opt->Apply({&w});
  w.value = Tensor({3});
  w.grad = Tensor({3});
  ExpectThrowsWith<InvalidArgument>([&] { opt->Apply({&w}); }, "'w'");
}

// --- Sparse updates against the dense formula, for every optimizer -----------------------------

struct OptimizerCase {
  std::string label;
  std::function<std::unique_ptr<Optimizer>()> make;
};

std::vector<OptimizerCase> AllOptimizers() {
  return {
      {"sgd", [] { return MakeSgd({.learning_rate = 0.1f}); }},
      {"sgd_momentum", [] { return MakeSgd({.learning_rate = 0.1f, .momentum = 0.9f}); }},
      {"sgd_nesterov",
       [] { return MakeSgd({.learning_rate = 0.1f, .momentum = 0.9f, .nesterov = true}); }},
      {"adagrad", [] { return MakeAdagrad({.learning_rate = 0.1f}); }},
      {"rowwise_adagrad",
       [] {
         return MakeRowWiseAdagrad({.learning_rate = 0.1f, .initial_accumulator_value = 0.1f});
       }},
      {"adam", [] { return MakeAdam({.learning_rate = 0.1f}); }},
      {"adam_warmup",
       [] {
         return MakeAdam({}, MakeWarmUpAndPolyDecay({.learning_rate = 0.5, .warmup_steps = 4}));
       }},
  };
}

class EveryOptimizer : public ::testing::TestWithParam<OptimizerCase> {};

// The values of vars, in order.
std::vector<std::vector<float>> ValuesOf(const std::vector<Variable>& vars) {
  std::vector<std::vector<float>> out;
  for (const Variable& v : vars) out.push_back(v.value.ToVector());
  return out;
}

// Row r of a slot of a (V, E) table (E values, or 1 for a per-row slot) as a vector.
std::vector<float> SlotRow(const Tensor& slot, int64_t num_rows, int64_t r) {
  const int64_t k = slot.size() / num_rows;
  return std::vector<float>(slot.data() + r * k, slot.data() + (r + 1) * k);
}

TEST_P(EveryOptimizer, TouchedRowsFollowTheDenseFormulaAndUntouchedRowsStayBitIdentical) {
  constexpr int64_t kRows = 5, kDim = 3;
  auto opt = GetParam().make();
  Variable table = Table("table", kRows, kDim);
  opt->Prepare({&table});

  // Reference: each row as its own dense (1, E) variable with its own optimizer, stepped at the
  // same global step as the table.
  std::vector<Variable> refs;
  std::vector<std::unique_ptr<Optimizer>> ref_opts;
  for (int64_t r = 0; r < kRows; ++r) {
    refs.push_back(
        Dense("ref", {1, kDim}, std::vector<float>(table.value.row(r), table.value.row(r) + kDim)));
    ref_opts.push_back(GetParam().make());
  }

  const std::vector<std::vector<int64_t>> ids_per_step = {{1, 3}, {0, 1, 4}, {3}, {1, 3, 4}};
  for (size_t step = 0; step < ids_per_step.size(); ++step) {
    const std::vector<int64_t>& ids = ids_per_step[step];
    std::vector<float> rows;
    for (size_t i = 0; i < ids.size(); ++i) {
      for (int64_t j = 0; j < kDim; ++j) {
        rows.push_back(0.3f * static_cast<float>(j + 1) - 0.2f * static_cast<float>(i + step));
      }
    }
    SetSparseGrad(table, ids, rows);
    const Tensor value_before = table.value;
    std::map<std::string, Tensor> slots_before;
    for (auto& [name, t] : Slots(*opt, "table/")) slots_before[name] = *t;

    opt->Apply({&table});

    for (size_t i = 0; i < ids.size(); ++i) {
      Variable& ref = refs[static_cast<size_t>(ids[i])];
      SetGrad(ref, std::vector<float>(rows.begin() + static_cast<int64_t>(i) * kDim,
                                      rows.begin() + static_cast<int64_t>(i + 1) * kDim));
      ref_opts[static_cast<size_t>(ids[i])]->set_iterations(static_cast<int64_t>(step));
      ref_opts[static_cast<size_t>(ids[i])]->Apply({&ref});
    }

    const auto slots_after = Slots(*opt, "table/");
    for (int64_t r = 0; r < kRows; ++r) {
      const bool touched = std::find(ids.begin(), ids.end(), r) != ids.end();
      const std::vector<float> row(table.value.row(r), table.value.row(r) + kDim);
      SCOPED_TRACE(::testing::Message() << "step " << step << " row " << r);
      if (touched) {
        EXPECT_EQ(row, refs[static_cast<size_t>(r)].value.ToVector());
        const auto ref_slots = Slots(*ref_opts[static_cast<size_t>(r)], "ref/");
        ASSERT_EQ(ref_slots.size(), slots_after.size());
        for (auto& [name, t] : slots_after) {
          EXPECT_EQ(SlotRow(*t, kRows, r), ref_slots.at(name)->ToVector()) << name;
        }
      } else {
        EXPECT_EQ(row, std::vector<float>(value_before.row(r), value_before.row(r) + kDim));
        for (auto& [name, t] : slots_after) {
          EXPECT_EQ(SlotRow(*t, kRows, r), SlotRow(slots_before.at(name), kRows, r)) << name;
        }
      }
    }
  }
}

// Large enough that the dense and sparse loops run in parallel blocks.
TEST_P(EveryOptimizer, IsBitIdenticalForAnyThreadCountAndBetweenDenseAndAllRowsSparse) {
  constexpr int64_t kRows = 3000, kDim = 16;
  const int saved_threads = omp_get_max_threads();
  auto run = [&](int threads, bool sparse) {
    omp_set_num_threads(threads);
    auto opt = GetParam().make();
    Variable v = Table("big", kRows, kDim);
    v.sparse = sparse;
    std::vector<int64_t> all(kRows);
    for (int64_t r = 0; r < kRows; ++r) all[static_cast<size_t>(r)] = r;
    for (int step = 0; step < 3; ++step) {
      std::vector<float> g(static_cast<size_t>(kRows * kDim));
      for (size_t i = 0; i < g.size(); ++i) {
        g[i] = std::sin(0.37f * static_cast<float>(i) + static_cast<float>(step));
      }
      if (sparse) {
        SetSparseGrad(v, all, g);
      } else {
        SetGrad(v, g);
      }
      opt->Apply({&v});
    }
    return v.value.ToVector();
  };
  const std::vector<float> dense_one = run(1, false);
  const std::vector<float> dense_four = run(4, false);
  const std::vector<float> sparse_one = run(1, true);
  const std::vector<float> sparse_four = run(4, true);
  omp_set_num_threads(saved_threads);
  EXPECT_NE(dense_one, Table("big", kRows, kDim).value.ToVector());
  EXPECT_TRUE(dense_one == dense_four);
  EXPECT_TRUE(dense_one == sparse_one);
  EXPECT_TRUE(sparse_one == sparse_four);
}

TEST_P(EveryOptimizer, ManySparseTablesGiveTheSameResultsForAnyThreadCountAsEachTableAlone) {
  // 12 tables: Apply spreads whole tables over the threads at 2 threads (>= 4 per thread) and
  // updates them one after another at 8; both must equal updating each table on its own.
  constexpr int kTables = 12;
  constexpr int64_t kRows = 500, kDim = 16;
  const int saved_threads = omp_get_max_threads();
  auto grads = [&](int t, int step, std::vector<int64_t>* ids, std::vector<float>* rows) {
    ids->clear();
    rows->clear();
    for (int64_t r = (t + step) % 3; r < kRows; r += 2 + t % 3) {
      ids->push_back(r);
      for (int64_t e = 0; e < kDim; ++e) {
        rows->push_back(std::cos(0.11f * static_cast<float>(r * kDim + e) + t + 0.5f * step));
      }
    }
  };
  auto together = [&](int threads) {
    omp_set_num_threads(threads);
    auto opt = GetParam().make();
    std::vector<Variable> tables;
    for (int t = 0; t < kTables; ++t) tables.push_back(Table("t" + std::to_string(t), kRows, kDim));
    std::vector<Variable*> vars;
    for (Variable& v : tables) vars.push_back(&v);
    std::vector<int64_t> ids;
    std::vector<float> rows;
    for (int step = 0; step < 3; ++step) {
      for (int t = 0; t < kTables; ++t) {
        grads(t, step, &ids, &rows);
        SetSparseGrad(tables[static_cast<size_t>(t)], ids, rows);
      }
      opt->Apply(vars);
    }
    return ValuesOf(tables);
  };
  const auto two = together(2);
  const auto eight = together(8);
  omp_set_num_threads(saved_threads);
  EXPECT_TRUE(two == eight);
  for (int t = 0; t < kTables; ++t) {
    auto opt = GetParam().make();
    Variable v = Table("t" + std::to_string(t), kRows, kDim);
    std::vector<int64_t> ids;
    std::vector<float> rows;
    for (int step = 0; step < 3; ++step) {
      grads(t, step, &ids, &rows);
      SetSparseGrad(v, ids, rows);
      opt->Apply({&v});
    }
    EXPECT_TRUE(v.value.ToVector() == two[static_cast<size_t>(t)]) << "table " << t;
  }
}

TEST_P(EveryOptimizer, ManyDenseVariablesGiveTheSameResultsForAnyThreadCountAsEachAlone) {
  // Kernels and biases of mixed sizes, some spanning several update blocks (kOptimChunk) and one
  // ending inside a block: Apply updates them all from one parallel region; each must equal
  // updating the variable on its own, at any thread count.
  const std::vector<std::vector<int64_t>> shapes = {{300, 128}, {128}, {13, 64},  {64},
                                                    {40, 500},  {1},   {7, 3, 5}, {}};
  const int saved_threads = omp_get_max_threads();
  auto make_vars = [&] {
    std::vector<Variable> vars;
    for (size_t i = 0; i < shapes.size(); ++i) {
      Tensor t(shapes[i]);
      for (int64_t e = 0; e < t.size(); ++e) t[e] = std::sin(0.3f * static_cast<float>(e + i));
      vars.push_back(Dense("v" + std::to_string(i), shapes[i], t.ToVector()));
    }
    return vars;
  };
  auto set_grads = [](std::vector<Variable>& vars, int step) {
    for (size_t i = 0; i < vars.size(); ++i) {
      std::vector<float> g(static_cast<size_t>(vars[i].value.size()));
      for (size_t e = 0; e < g.size(); ++e) {
        g[e] = std::cos(0.17f * static_cast<float>(e) + static_cast<float>(i + step));
      }
      SetGrad(vars[i], g);
    }
  };
  auto together = [&](int threads) {
    omp_set_num_threads(threads);
    auto opt = GetParam().make();
    std::vector<Variable> vars = make_vars();
    std::vector<Variable*> ptrs;
    for (Variable& v : vars) ptrs.push_back(&v);
    for (int step = 0; step < 3; ++step) {
      set_grads(vars, step);
      opt->Apply(ptrs);
    }
    return ValuesOf(vars);
  };
  const auto one = together(1);
  const auto three = together(3);
  omp_set_num_threads(saved_threads);
  EXPECT_TRUE(one == three);
  std::vector<Variable> alone = make_vars();
  for (size_t i = 0; i < alone.size(); ++i) {
    auto opt = GetParam().make();
    std::vector<Variable> all = make_vars();
    for (int step = 0; step < 3; ++step) {
      set_grads(all, step);
      opt->Apply({&all[i]});
    }
    EXPECT_NE(all[i].value.ToVector(), alone[i].value.ToVector()) << "variable " << i;
    EXPECT_TRUE(all[i].value.ToVector() == one[i]) << "variable " << i;
  }
}

INSTANTIATE_TEST_SUITE_P(Optim, EveryOptimizer, ::testing::ValuesIn(AllOptimizers()),
                         [](const auto& info) { return info.param.label; });

}  // namespace
}  // namespace crank

namespace crank {
namespace {

// A (V, E) table stored in `precision` with the values of Table(name, V, E) rounded to nearest.
Variable Table16(const std::string& name, int64_t num_rows, int64_t dim,
                 EmbeddingPrecision precision) {
  Variable full = Table(name, num_rows, dim);
  Variable v;
  v.name = name;
  v.sparse = true;
  v.precision = precision;
  v.rounding_seed = 0x5eed;
  v.value16.Resize({num_rows, dim});
  NarrowRowNearest(precision, full.value.data(), full.value.size(), v.value16.data());
  v.sparse_grad.rows = Tensor({0, dim});
  return v;
}

void SetSparseGrad(Variable& v, std::vector<int64_t> ids, int64_t dim, float scale) {
  v.sparse_grad.ids = std::move(ids);
  v.sparse_grad.rows = Tensor({static_cast<int64_t>(v.sparse_grad.ids.size()), dim});
  for (int64_t k = 0; k < v.sparse_grad.rows.size(); ++k) {
    v.sparse_grad.rows[k] = scale * (0.3f * static_cast<float>(k % 11) - 1.4f);
  }
}

std::vector<std::function<std::unique_ptr<Optimizer>()>> EveryKind() {
  return {[] { return MakeSgd({.learning_rate = 0.05f}); },
          [] { return MakeSgd({.learning_rate = 0.05f, .momentum = 0.9f, .nesterov = true}); },
          [] { return MakeAdagrad({.learning_rate = 0.1f}); },
          [] { return MakeRowWiseAdagrad({.learning_rate = 0.1f}); },
          [] { return MakeAdam({.learning_rate = 0.01f}); }};
}

// Each optimizer updates a 16-bit row as the fp32 update of its widened values, narrowed with
// the stochastic rounding of (seed, step, row, element); other rows and state stay untouched.
TEST(SparseUpdate16, IsTheFp32UpdateOfTheWidenedRowRoundedStochastically) {
  constexpr int64_t kRows = 20, kDim = 10;
  for (const EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    for (const auto& make : EveryKind()) {
      auto half_opt = make(), full_opt = make();
      SCOPED_TRACE(std::string(EmbeddingPrecisionName(p)) + " " + half_opt->Describe());
      Variable half = Table16("t", kRows, kDim, p);
      Variable full = Table("t", kRows, kDim);
      for (int64_t step = 0; step < 3; ++step) {
        WidenRow(p, half.value16.data(), half.size(), full.value.data());
        const std::vector<uint16_t> before(half.value16.data(), half.value16.data() + half.size());
        const std::vector<int64_t> ids = {1, 7, static_cast<int64_t>(8 + step), 19};
        SetSparseGrad(half, ids, kDim, 1.0f);
        SetSparseGrad(full, ids, kDim, 1.0f);
        half_opt->Apply({&half});
        full_opt->Apply({&full});
        for (int64_t r = 0; r < kRows; ++r) {
          std::vector<uint16_t> want(before.begin() + r * kDim, before.begin() + (r + 1) * kDim);
          if (std::find(ids.begin(), ids.end(), r) != ids.end()) {
            NarrowRowStochastic(p, full.value.row(r), kDim, half.rounding_seed, step, r,
                                want.data());
          }
          EXPECT_EQ(0, std::memcmp(want.data(), half.value16.row(r), 2 * kDim))
              << "row " << r << " step " << step;
        }
        // fp32 optimizer state, the same as the fp32 run's.
        const auto hs = half_opt->StateTensors(), fs = full_opt->StateTensors();
        ASSERT_EQ(hs.size(), fs.size());
        for (size_t s = 0; s < hs.size(); ++s) {
          EXPECT_EQ(hs[s].second->ToVector(), fs[s].second->ToVector()) << hs[s].first;
        }
      }
    }
  }
}

// A shard holding rows [8, 14) of a table (row_offset 8), updated at its rows 0, 3 and 5, stores
// the bits the whole table stores at rows 8, 11 and 13: the rounding is keyed by the row of the
// whole table, so a table split over processes rounds as the whole one.
TEST(SparseUpdate16, AShardRoundsItsRowsAsTheWholeTableDoes) {
  constexpr int64_t kRows = 20, kDim = 10, kFirst = 8, kShardRows = 6;
  for (const EmbeddingPrecision p : {EmbeddingPrecision::kBf16, EmbeddingPrecision::kFp16}) {
    for (const auto& make : EveryKind()) {
      auto whole_opt = make(), shard_opt = make();
      SCOPED_TRACE(std::string(EmbeddingPrecisionName(p)) + " " + whole_opt->Describe());
      Variable whole = Table16("t", kRows, kDim, p);
      Variable shard = Table16("t", kShardRows, kDim, p);
      std::memcpy(shard.value16.data(), whole.value16.row(kFirst), 2 * kShardRows * kDim);
      shard.row_offset = kFirst;
      for (int64_t step = 0; step < 3; ++step) {
        SetSparseGrad(whole, {kFirst, kFirst + 3, kFirst + 5}, kDim, 1.0f);
        SetSparseGrad(shard, {0, 3, 5}, kDim, 1.0f);
        whole_opt->Apply({&whole});
        shard_opt->Apply({&shard});
      }
      EXPECT_EQ(
          0, std::memcmp(shard.value16.data(), whole.value16.row(kFirst), 2 * kShardRows * kDim));
      // Keyed by the shard's own row indices instead, the rounding differs.
      Variable local = Table16("t", kShardRows, kDim, p);
      std::memcpy(local.value16.data(), whole.value16.row(kFirst), 2 * kShardRows * kDim);
      auto local_opt = make(), offset_opt = make();
      Variable offset = local;
      offset.row_offset = kFirst;
      SetSparseGrad(local, {0, 3, 5}, kDim, 1.0f);
      SetSparseGrad(offset, {0, 3, 5}, kDim, 1.0f);
      local_opt->Apply({&local});
      offset_opt->Apply({&offset});
      EXPECT_NE(0, std::memcmp(local.value16.data(), offset.value16.data(), 2 * local.size()));
    }
  }
}

// Updates far below a bf16 step survive in expectation (nearest rounding would drop them all),
// and the result is the same for any thread count.
TEST(SparseUpdate16, SmallUpdatesAccumulateInExpectationAndDoNotDependOnTheThreads) {
  constexpr int64_t kRows = 64, kDim = 64, kSteps = 400;
  const auto run = [&](int threads) {
    const int saved = ComputeThreads();
    SetComputeThreads(threads);
    Variable t;
    t.name = "t";
    t.sparse = true;
    t.precision = EmbeddingPrecision::kBf16;
    t.rounding_seed = 11;
    t.value16.Resize({kRows, kDim});
    std::vector<float> ones(kRows * kDim, 1.0f);
    NarrowRowNearest(t.precision, ones.data(), kRows * kDim, t.value16.data());
    auto sgd = MakeSgd({.learning_rate = 1.0f});
    std::vector<int64_t> all(kRows);
    for (int64_t r = 0; r < kRows; ++r) all[static_cast<size_t>(r)] = r;
    for (int64_t s = 0; s < kSteps; ++s) {
      t.sparse_grad.ids = all;
      t.sparse_grad.rows = Tensor({kRows, kDim});
      t.sparse_grad.rows.Fill(2.5e-4f);  // 1/31 of the bf16 step below 1 (2^-8)
      sgd->Apply({&t});
    }
    SetComputeThreads(saved);
    std::vector<float> out(static_cast<size_t>(kRows * kDim));
    WidenRow(t.precision, t.value16.data(), kRows * kDim, out.data());
    return out;
  };
  const std::vector<float> one = run(1), two = run(2);
  EXPECT_EQ(one, two);
  double mean = 0;
  for (float v : one) mean += v;
  mean /= static_cast<double>(one.size());
  // fp32 arithmetic would give 1 - 400 * 2.5e-4 = 0.9; nearest rounding would stay at 1.
  EXPECT_NEAR(mean, 0.9, 0.003);
}

}  // namespace
}  // namespace crank
