#include "crank/optim/composite_optimizer.h"

#include <fmt/format.h>

#include <algorithm>

#include "crank/base/error.h"

namespace crank {

CompositeOptimizer::CompositeOptimizer(std::vector<Part> parts) {
  CRANK_REQUIRE(!parts.empty(), "CompositeOptimizer: expected at least one optimizer, got none");
  for (size_t i = 0; i < parts.size(); ++i) {
    auto& [optimizer, vars] = parts[i];
    CRANK_REQUIRE(optimizer != nullptr, "CompositeOptimizer: optimizer {} is null", i);
    for (size_t j = 0; j < vars.size(); ++j) {
      const Variable* var = vars[j];
      CRANK_REQUIRE(var != nullptr, "CompositeOptimizer: variable {} of optimizer {} ({}) is null",
                    j, i, optimizer->Describe());
      const auto [it, inserted] = owner_.emplace(var, static_cast<int>(i));
      if (!inserted) {
        const size_t other = static_cast<size_t>(it->second);
        throw InvalidArgument(fmt::format(
            "CompositeOptimizer: variable '{}' is owned by both optimizer {} ({}) and "
            "optimizer {} ({}); the sets of variables must be disjoint",
            var->name, other, parts[other].first->Describe(), i, optimizer->Describe()));
      }
    }
    num_owned_.push_back(vars.size());
  }
  for (auto& part : parts) parts_.push_back(std::move(part.first));
  routed_.resize(parts_.size());
}

void CompositeOptimizer::Route(const std::vector<Variable*>& vars) {
  for (auto& r : routed_) r.clear();
  for (size_t j = 0; j < vars.size(); ++j) {
    Variable* var = vars[j];
    CRANK_REQUIRE(var != nullptr, "CompositeOptimizer: variable {} of {} is null", j, vars.size());
    const auto it = owner_.find(var);
    CRANK_REQUIRE(it != owner_.end(),
                  "CompositeOptimizer: variable '{}' is not owned by any of its {} optimizers",
                  var->name, parts_.size());
    routed_[static_cast<size_t>(it->second)].push_back(var);
  }
}

void CompositeOptimizer::Apply(const std::vector<Variable*>& vars) {
  Route(vars);
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (!routed_[i].empty()) parts_[i]->Apply(routed_[i]);
  }
  IncrementIterations();
}

void CompositeOptimizer::Prepare(const std::vector<Variable*>& vars) {
  Route(vars);
  for (size_t i = 0; i < parts_.size(); ++i) {
    if (!routed_[i].empty()) parts_[i]->Prepare(routed_[i]);
  }
}

std::vector<std::pair<std::string, Tensor*>> CompositeOptimizer::StateTensors() {
  std::vector<std::pair<std::string, Tensor*>> out;
  for (size_t i = 0; i < parts_.size(); ++i) {
    for (auto& [name, tensor] : parts_[i]->StateTensors()) {
      out.emplace_back(fmt::format("opt{}/{}", i, name), tensor);
    }
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.first < b.first; });
  return out;
}

Tensor* CompositeOptimizer::L2CatchUpState(const Variable& var) {
  const auto it = owner_.find(&var);
  return it == owner_.end() ? nullptr
                            : parts_[static_cast<size_t>(it->second)]->L2CatchUpState(var);
}

std::string CompositeOptimizer::Describe() const {
  std::string out = "composite(";
  for (size_t i = 0; i < parts_.size(); ++i) {
    out += fmt::format("{}opt{}={} on {} variable{}", i == 0 ? "" : "; ", i, parts_[i]->Describe(),
                       num_owned_[i], num_owned_[i] == 1 ? "" : "s");
  }
  return out + ")";
}

void CompositeOptimizer::OnSetIterations(int64_t n) {
  for (auto& part : parts_) part->set_iterations(n);
}

}  // namespace crank
