#ifndef CRANK_OPTIM_FACTORY_H_
#define CRANK_OPTIM_FACTORY_H_

// Optimizer configuration as filled from YAML / CLI flags, the registry of optimizer kinds and
// the factory that builds one.
//
// Adding an optimizer touches its own file, which defines its OptimizerKind (name, the fields
// it reads, validation, factory), plus one line in kOptimizerKinds (factory.cc). The YAML
// reader, the writer and Validate() follow the registry. Everything here is immutable after
// static initialisation: thread-safe.

#include <yaml-cpp/yaml.h>

#include <memory>
#include <span>
#include <string>
#include <vector>

#include "crank/base/enum_names.h"
#include "crank/optim/optimizer.h"
#include "crank/optim/schedule.h"
#include "crank/yaml/reader.h"

namespace crank {

enum class ScheduleKind { kConstant, kWarmupPolyDecay };
inline constexpr EnumName<ScheduleKind> kScheduleNames[] = {
    {"constant", ScheduleKind::kConstant}, {"warmup_poly_decay", ScheduleKind::kWarmupPolyDecay}};

// A kind reads learning_rate and the fields its OptimizerKind lists; the others are ignored
// (sgd: momentum, nesterov; adagrad and rowwise_adagrad: epsilon, initial_accumulator_value;
// adam: beta_1, beta_2, epsilon).
struct OptimizerConfig {
  std::string kind = "adagrad";  // a registered kind: sgd | adagrad | rowwise_adagrad | adam
  float learning_rate = 0.01;
  float momentum = 0;
  bool nesterov = false;
  float beta_1 = 0.9;
  float beta_2 = 0.999;
  float epsilon = 1e-7;
  float initial_accumulator_value = 0.1;
  // A name in kScheduleNames: constant | warmup_poly_decay. With warmup_poly_decay the
  // schedule's peak rate is learning_rate (warmup.learning_rate is ignored); the other warmup
  // fields apply.
  std::string schedule = "constant";
  WarmUpAndPolyDecayOptions warmup;

  // Throws ConfigError with key "<key>.<field>" (e.g. "optimizer.dense.momentum"), the
  // expected range and the value.
  void Validate(const std::string& key = "optimizer") const;
  // Reads an optimizer section (absent or null: *this unchanged) over the values of *this.
  // Reads every field any kind uses; unknown keys are errors. Does not Validate().
  void ReadYaml(const YamlReader& section);
  // Writes kind, learning_rate, the kind's fields, the schedule (and warmup when not constant).
  void ToYaml(YAML::Emitter& out) const;
  // The schedule's kind; ConfigError "<key>.schedule: ..." for a name not in kScheduleNames.
  ScheduleKind Schedule(const std::string& key = "optimizer") const;
};

// One field of OptimizerConfig as a YAML key: a number or a flag.
struct OptimizerField {
  const char* key;
  float OptimizerConfig::*number = nullptr;
  bool OptimizerConfig::*flag = nullptr;
};

// An optimizer kind in the registry.
struct OptimizerKind {
  const char* name;
  // The fields the kind reads beyond learning_rate, in the order they are written.
  std::vector<OptimizerField> fields;
  // Throws ConfigError "<key>.<field>: ..." for a field of this kind out of range.
  void (*validate)(const OptimizerConfig& config, const std::string& key);
  // Builds the optimizer; `schedule` is null for a constant learning_rate.
  std::unique_ptr<Optimizer> (*make)(const OptimizerConfig& config,
                                     std::unique_ptr<LearningRateSchedule> schedule);
  // Floats of optimizer state the kind keeps for a (rows, cols) variable (memory estimates).
  double (*state_floats)(const OptimizerConfig& config, double rows, double cols);
};

// Defined in each optimizer's file.
extern const OptimizerKind kSgdKind;
extern const OptimizerKind kAdagradKind;
extern const OptimizerKind kRowWiseAdagradKind;
extern const OptimizerKind kAdamKind;

// The registered kinds, in the order messages list them.
std::span<const OptimizerKind* const> OptimizerKinds();
// The kind named `name`, or null.
const OptimizerKind* FindOptimizerKind(std::string_view name);

// Floats of optimizer state that `config`'s kind keeps for a (rows, cols) variable; 0 for an
// unknown kind.
double OptimizerStateFloats(const OptimizerConfig& config, double rows, double cols);

// Validates config (ConfigError on an unknown kind or schedule or a value out of range) and
// builds the optimizer with its schedule.
std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config);

// Builds the schedule of config (constant learning_rate or warmup_poly_decay); validates it.
std::unique_ptr<LearningRateSchedule> MakeSchedule(const OptimizerConfig& config);

// Helpers for an OptimizerKind's validate: ConfigError "<key>.<field>: expected ...; got v".
void RequireUnitInterval(float v, const std::string& key, const char* field);  // [0, 1)
void RequireFiniteNonNegative(float v, const std::string& key, const char* field);

}  // namespace crank

#endif  // CRANK_OPTIM_FACTORY_H_
