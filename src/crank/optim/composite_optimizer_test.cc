#include "crank/optim/composite_optimizer.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "crank/base/error.h"

namespace crank {
namespace {

Variable Dense(const std::string& name, const std::vector<int64_t>& shape, float start) {
  Variable v;
  v.name = name;
  v.value = Tensor(shape);
  for (int64_t i = 0; i < v.value.size(); ++i) v.value[i] = start + 0.1f * static_cast<float>(i);
  v.grad = Tensor(shape);
  return v;
}

Variable Table(const std::string& name, int64_t num_rows, int64_t dim) {
  Variable v = Dense(name, {num_rows, dim}, -0.5f);
  v.sparse = true;
  v.grad = Tensor();
  v.sparse_grad.rows = Tensor({0, dim});
  return v;
}

// Deterministic, step-dependent gradients; the table touches a different row set each step.
void FillGradients(int step, Variable& table, Variable& bias, Variable& kernel) {
  table.sparse_grad.ids.clear();
  for (int64_t r = step % 2; r < table.value.dim(0); r += 2 + step % 3) {
    table.sparse_grad.ids.push_back(r);
  }
  const int64_t n = static_cast<int64_t>(table.sparse_grad.ids.size());
  table.sparse_grad.rows = Tensor({n, table.value.dim(1)});
  for (int64_t i = 0; i < table.sparse_grad.rows.size(); ++i) {
    table.sparse_grad.rows[i] = std::cos(0.7f * static_cast<float>(i + step));
  }
  for (Variable* v : {&bias, &kernel}) {
    for (int64_t i = 0; i < v->grad.size(); ++i) {
      v->grad[i] = std::sin(0.3f * static_cast<float>(i) - static_cast<float>(step));
    }
  }
}

template <typename E, typename Fn>
void ExpectThrowsWith(Fn fn, const std::string& needle) {
  try {
    fn();
    ADD_FAILURE() << "expected an exception mentioning '" << needle << "'";
  } catch (const E& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

std::vector<CompositeOptimizer::Part> TwoParts(Variable& table, Variable& bias, Variable& kernel) {
  std::vector<CompositeOptimizer::Part> parts;
  parts.emplace_back(MakeAdagrad({.learning_rate = 0.05f}), std::vector<Variable*>{&table});
  parts.emplace_back(MakeAdam({.learning_rate = 0.01f}), std::vector<Variable*>{&kernel, &bias});
  return parts;
}

TEST(CompositeOptimizer, IsBitIdenticalToApplyingEachOptimizerToItsOwnVariables) {
  Variable table = Table("emb/table", 20, 4), bias = Dense("top/bias", {3}, 0.2f),
           kernel = Dense("top/kernel", {4, 3}, -0.1f);
  Variable table2 = Table("emb/table", 20, 4), bias2 = Dense("top/bias", {3}, 0.2f),
           kernel2 = Dense("top/kernel", {4, 3}, -0.1f);

  CompositeOptimizer composite(TwoParts(table, bias, kernel));
  auto adagrad = MakeAdagrad({.learning_rate = 0.05f});
  auto adam = MakeAdam({.learning_rate = 0.01f});

  for (int step = 0; step < 10; ++step) {
    FillGradients(step, table, bias, kernel);
    FillGradients(step, table2, bias2, kernel2);
    composite.Apply({&bias, &table, &kernel});  // any order
    adagrad->Apply({&table2});
    adam->Apply({&kernel2, &bias2});
  }
  EXPECT_EQ(composite.iterations(), 10);
  EXPECT_EQ(composite.part(0).iterations(), 10);
  EXPECT_EQ(composite.part(1).iterations(), 10);
  EXPECT_NE(table.value.ToVector(), Table("emb/table", 20, 4).value.ToVector());
  EXPECT_TRUE(table.value.ToVector() == table2.value.ToVector());
  EXPECT_TRUE(bias.value.ToVector() == bias2.value.ToVector());
  EXPECT_TRUE(kernel.value.ToVector() == kernel2.value.ToVector());
}

TEST(CompositeOptimizer, RejectsAVariableOwnedByTwoOptimizers) {
  Variable table = Table("emb/table", 4, 2), bias = Dense("top/bias", {3}, 0.0f);
  std::vector<CompositeOptimizer::Part> parts;
  parts.emplace_back(MakeAdagrad({}), std::vector<Variable*>{&table, &bias});
  parts.emplace_back(MakeSgd({}), std::vector<Variable*>{&bias});
  ExpectThrowsWith<InvalidArgument>([&] { CompositeOptimizer c(std::move(parts)); }, "'top/bias'");

  std::vector<CompositeOptimizer::Part> twice;
  twice.emplace_back(MakeAdagrad({}), std::vector<Variable*>{&table, &table});
  ExpectThrowsWith<InvalidArgument>([&] { CompositeOptimizer c(std::move(twice)); }, "'emb/table'");
}

TEST(CompositeOptimizer, RejectsAVariableOwnedByNoOptimizerAndChangesNothing) {
  Variable table = Table("emb/table", 4, 2), bias = Dense("top/bias", {3}, 0.0f),
           kernel = Dense("top/kernel", {2, 3}, 0.0f);
  std::vector<CompositeOptimizer::Part> parts;
  parts.emplace_back(MakeSgd({.learning_rate = 0.1f}), std::vector<Variable*>{&bias});
  parts.emplace_back(MakeAdagrad({}), std::vector<Variable*>{&table});
  CompositeOptimizer composite(std::move(parts));
  bias.grad.Fill(1.0f);
  const std::vector<float> before = bias.value.ToVector();
  ExpectThrowsWith<InvalidArgument>([&] { composite.Apply({&bias, &kernel}); }, "'top/kernel'");
  EXPECT_EQ(bias.value.ToVector(), before);
  EXPECT_EQ(composite.iterations(), 0);
  ExpectThrowsWith<InvalidArgument>([&] { composite.Prepare({&kernel}); }, "'top/kernel'");
}

TEST(CompositeOptimizer, RejectsNullOptimizersVariablesAndNoParts) {
  Variable bias = Dense("b", {1}, 0.0f);
  EXPECT_THROW(CompositeOptimizer({}), InvalidArgument);
  std::vector<CompositeOptimizer::Part> null_opt;
  null_opt.emplace_back(nullptr, std::vector<Variable*>{&bias});
  EXPECT_THROW(CompositeOptimizer(std::move(null_opt)), InvalidArgument);
  std::vector<CompositeOptimizer::Part> null_var;
  null_var.emplace_back(MakeSgd({}), std::vector<Variable*>{nullptr});
  EXPECT_THROW(CompositeOptimizer(std::move(null_var)), InvalidArgument);
}

TEST(CompositeOptimizer, PrefixesStateTensorsWithThePartIndex) {
  Variable table = Table("emb/table", 6, 2), bias = Dense("top/bias", {3}, 0.0f),
           kernel = Dense("top/kernel", {2, 3}, 0.0f);
  CompositeOptimizer composite(TwoParts(table, bias, kernel));
  composite.Prepare({&table, &bias, &kernel});
  std::vector<std::string> names;
  std::vector<std::vector<int64_t>> shapes;
  for (auto& [name, t] : composite.StateTensors()) {
    names.push_back(name);
    shapes.push_back(t->shape());
  }
  EXPECT_EQ(names, (std::vector<std::string>{"opt0/emb/table/accumulator", "opt1/top/bias/m",
                                             "opt1/top/bias/v", "opt1/top/kernel/m",
                                             "opt1/top/kernel/v"}));
  EXPECT_EQ(shapes[0], std::vector<int64_t>({6, 2}));
  EXPECT_EQ(shapes[1], std::vector<int64_t>({3}));
  EXPECT_EQ(shapes[4], std::vector<int64_t>({2, 3}));
}

TEST(CompositeOptimizer, SkipsPartsWithNoVariablesInTheCall) {
  Variable table = Table("emb/table", 4, 2), bias = Dense("top/bias", {3}, 0.0f),
           kernel = Dense("top/kernel", {2, 3}, 0.0f);
  CompositeOptimizer composite(TwoParts(table, bias, kernel));
  composite.Apply({&table});
  EXPECT_EQ(composite.iterations(), 1);
  EXPECT_EQ(composite.part(0).iterations(), 1);
  EXPECT_EQ(composite.part(1).iterations(), 0);
}

TEST(CompositeOptimizer, SetIterationsSetsEveryPart) {
  Variable table = Table("emb/table", 4, 2), bias = Dense("top/bias", {3}, 0.0f),
           kernel = Dense("top/kernel", {2, 3}, 0.0f);
  CompositeOptimizer composite(TwoParts(table, bias, kernel));
  composite.set_iterations(42);
  EXPECT_EQ(composite.iterations(), 42);
  EXPECT_EQ(composite.part(0).iterations(), 42);
  EXPECT_EQ(composite.part(1).iterations(), 42);
}

TEST(CompositeOptimizer, DescribesItsParts) {
  Variable table = Table("emb/table", 4, 2), bias = Dense("top/bias", {3}, 0.0f),
           kernel = Dense("top/kernel", {2, 3}, 0.0f);
  CompositeOptimizer composite(TwoParts(table, bias, kernel));
  EXPECT_EQ(composite.num_parts(), 2);
  EXPECT_EQ(composite.Describe(),
            "composite(opt0=adagrad(lr=0.05, initial_accumulator=0.1, epsilon=1e-07) on 1 "
            "variable; opt1=adam(lr=0.01, beta_1=0.9, beta_2=0.999, epsilon=1e-07) on 2 "
            "variables)");
}

}  // namespace
}  // namespace crank
