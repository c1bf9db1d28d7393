#ifndef CRANK_OPTIM_COMPOSITE_OPTIMIZER_H_
#define CRANK_OPTIM_COMPOSITE_OPTIMIZER_H_

// CompositeOptimizer: different optimizers for disjoint sets of variables, as
// tfrs.experimental.optimizers.CompositeOptimizer (typically Adagrad for the embedding tables
// and Adam or SGD for the dense layers).
//
// Apply(vars) routes each variable to the optimizer that owns it and calls each optimizer's
// Apply once with its share, in part order; an optimizer that owns none of vars is not called
// (its iterations() does not advance), as in TFRS. The result is bit-identical to calling the
// parts' Apply directly on their own variables. Owns its parts; the variables are borrowed and
// must outlive it. Not safe for concurrent calls.

#include <cstdint>
#include <memory>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "crank/optim/optimizer.h"

namespace crank {

class CompositeOptimizer : public Optimizer {
 public:
  using Part = std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>;

  // Each part: an optimizer and the variables it owns. Throws InvalidArgument for no parts, a
  // null optimizer or variable, or a variable listed twice (in two parts or twice in one),
  // naming the variable and both owners.
  explicit CompositeOptimizer(std::vector<Part> parts);

  // Throws InvalidArgument naming the first variable of vars that no part owns; nothing is
  // updated then. Each part checks its own share's gradients (see Optimizer::Apply), so a bad
  // gradient in part i's share throws after the parts before i have applied their updates.
  void Apply(const std::vector<Variable*>& vars) override;
  // Routes vars like Apply and prepares each part's share.
  void Prepare(const std::vector<Variable*>& vars) override;
  // The parts' state tensors, named "opt<i>/<variable name>/<slot>", sorted by name.
  std::vector<std::pair<std::string, Tensor*>> StateTensors() override;
  // The state held by the part that owns var (null when none does).
  Tensor* L2CatchUpState(const Variable& var) override;
  // "composite(opt0=<part 0> on 3 variables; opt1=<part 1> on 2 variables)".
  std::string Describe() const override;

  int num_parts() const { return static_cast<int>(parts_.size()); }
  // Part i's optimizer (0 <= i < num_parts()); e.g. to save or restore its iterations().
  Optimizer& part(int i) { return *parts_.at(static_cast<size_t>(i)); }
  const Optimizer& part(int i) const { return *parts_.at(static_cast<size_t>(i)); }

 protected:
  // set_iterations(n) also sets every part's iterations() to n: correct whenever each Apply
  // passes variables of every part (the usual case: all of a model's variables each step).
  void OnSetIterations(int64_t n) override;

 private:
  // Fills routed_ with vars split by owner; throws for an unowned or null variable.
  void Route(const std::vector<Variable*>& vars);

  std::vector<std::unique_ptr<Optimizer>> parts_;
  std::vector<size_t> num_owned_;
  std::unordered_map<const Variable*, int> owner_;
  std::vector<std::vector<Variable*>> routed_;  // per part; keeps its capacity across calls
};

}  // namespace crank

#endif  // CRANK_OPTIM_COMPOSITE_OPTIMIZER_H_
