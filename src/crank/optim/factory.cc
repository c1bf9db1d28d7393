#include "crank/optim/factory.h"

#include <fmt/format.h>

#include <cmath>
#include <set>

#include "crank/base/error.h"
#include "crank/yaml/emitter.h"

namespace crank {
namespace {

// The registry: one line per optimizer kind.
const OptimizerKind* const kOptimizerKinds[] = {
    &kSgdKind,
    &kAdagradKind,
    &kRowWiseAdagradKind,
    &kAdamKind,
};

void Require(bool cond, const std::string& key, const std::string& what) {
  if (!cond) throw ConfigError(key, what);
}

}  // namespace

std::span<const OptimizerKind* const> OptimizerKinds() { return kOptimizerKinds; }

double OptimizerStateFloats(const OptimizerConfig& config, double rows, double cols) {
  const OptimizerKind* k = FindOptimizerKind(config.kind);
  return k == nullptr ? 0.0 : k->state_floats(config, rows, cols);
}

const OptimizerKind* FindOptimizerKind(std::string_view name) {
  for (const OptimizerKind* k : kOptimizerKinds) {
    if (name == k->name) return k;
  }
  return nullptr;
}

void RequireUnitInterval(float v, const std::string& key, const char* field) {
  Require(std::isfinite(v) && v >= 0.0f && v < 1.0f, key + "." + field,
          fmt::format("expected [0, 1); got {}", v));
}

void RequireFiniteNonNegative(float v, const std::string& key, const char* field) {
  Require(std::isfinite(v) && v >= 0.0f, key + "." + field,
          fmt::format("expected a finite value >= 0; got {}", v));
}

void OptimizerConfig::Validate(const std::string& key) const {
  const OptimizerKind* k = FindOptimizerKind(kind);
  if (k == nullptr) {
    std::string names;
    for (const OptimizerKind* r : kOptimizerKinds)
      names += (names.empty() ? "" : ", ") + std::string(r->name);
    throw ConfigError(key + ".kind", fmt::format("expected one of {}; got '{}'", names, kind));
  }
  Require(std::isfinite(learning_rate) && learning_rate > 0.0f, key + ".learning_rate",
          fmt::format("expected a finite value > 0; got {}", learning_rate));
  k->validate(*this, key);
  if (Schedule(key) == ScheduleKind::kWarmupPolyDecay) {
    const std::string w = key + ".warmup.";
    Require(warmup.batch_size > 0, w + "batch_size",
            fmt::format("expected > 0; got {}", warmup.batch_size));
    Require(std::isfinite(warmup.decay_exp) && warmup.decay_exp >= 0.0, w + "decay_exp",
            fmt::format("expected a finite value >= 0; got {}", warmup.decay_exp));
    Require(warmup.warmup_steps >= 0, w + "warmup_steps",
            fmt::format("expected >= 0; got {}", warmup.warmup_steps));
    Require(warmup.decay_steps >= 0, w + "decay_steps",
            fmt::format("expected >= 0; got {}", warmup.decay_steps));
    Require(warmup.decay_start_steps >= 0, w + "decay_start_steps",
            fmt::format("expected >= 0; got {}", warmup.decay_start_steps));
  }
}

ScheduleKind OptimizerConfig::Schedule(const std::string& key) const {
  if (const auto v = ParseName(kScheduleNames, schedule)) return *v;
  throw ConfigError(
      key + ".schedule",
      fmt::format("expected {}; got '{}'", ListNames(kScheduleNames, ", ", " or "), schedule));
}

void OptimizerConfig::ReadYaml(const YamlReader& s) {
  s.ExpectMapOrNull();
  // The keys every kind's fields use, each once.
  std::vector<OptimizerField> fields;
  std::set<std::string> seen;
  for (const OptimizerKind* k : kOptimizerKinds) {
    for (const OptimizerField& f : k->fields) {
      if (seen.insert(f.key).second) fields.push_back(f);
    }
  }
  std::vector<const char*> keys = {"kind", "learning_rate"};
  for (const OptimizerField& f : fields) keys.push_back(f.key);
  keys.push_back("schedule");
  keys.push_back("warmup");
  s.CheckKeys(std::span<const char* const>(keys));
  s.Read("kind", &kind);
  s.Read("learning_rate", &learning_rate);
  for (const OptimizerField& f : fields) {
    if (f.number != nullptr) s.Read(f.key, &(this->*f.number));
    if (f.flag != nullptr) s.Read(f.key, &(this->*f.flag));
  }
  s.Read("schedule", &schedule);
  const YamlReader w = s.Child("warmup");
  w.ExpectMapOrNull();
  w.CheckKeys({"batch_size", "decay_exp", "warmup_steps", "decay_steps", "decay_start_steps"});
  w.Read("batch_size", &warmup.batch_size);
  w.Read("decay_exp", &warmup.decay_exp);
  w.Read("warmup_steps", &warmup.warmup_steps);
  w.Read("decay_steps", &warmup.decay_steps);
  w.Read("decay_start_steps", &warmup.decay_start_steps);
}

void OptimizerConfig::ToYaml(YAML::Emitter& e) const {
  e << YAML::BeginMap;
  e << YAML::Key << "kind" << YAML::Value << kind;
  e << YAML::Key << "learning_rate" << YAML::Value << YamlNumber(learning_rate);
  if (const OptimizerKind* k = FindOptimizerKind(kind)) {
    for (const OptimizerField& f : k->fields) {
      e << YAML::Key << f.key << YAML::Value;
      if (f.number != nullptr) e << YamlNumber(this->*f.number);
      if (f.flag != nullptr) e << this->*f.flag;
    }
  }
  e << YAML::Key << "schedule" << YAML::Value << schedule;
  if (schedule != "constant") {
    e << YAML::Key << "warmup" << YAML::Value << YAML::Flow << YAML::BeginMap;
    e << YAML::Key << "batch_size" << YAML::Value << warmup.batch_size;
    e << YAML::Key << "decay_exp" << YAML::Value << YamlNumber(warmup.decay_exp);
    e << YAML::Key << "warmup_steps" << YAML::Value << warmup.warmup_steps;
    e << YAML::Key << "decay_steps" << YAML::Value << warmup.decay_steps;
    e << YAML::Key << "decay_start_steps" << YAML::Value << warmup.decay_start_steps;
    e << YAML::EndMap;
  }
  e << YAML::EndMap;
}

std::unique_ptr<LearningRateSchedule> MakeSchedule(const OptimizerConfig& config) {
  config.Validate();
  if (config.Schedule() == ScheduleKind::kWarmupPolyDecay) {
    WarmUpAndPolyDecayOptions o = config.warmup;
    o.learning_rate = config.learning_rate;
    return MakeWarmUpAndPolyDecay(o);
  }
  return MakeConstantSchedule(config.learning_rate);
}

std::unique_ptr<Optimizer> MakeOptimizer(const OptimizerConfig& config) {
  config.Validate();
  // A constant rate is passed as the options' learning_rate (Describe() then shows the number).
  std::unique_ptr<LearningRateSchedule> schedule =
      config.Schedule() == ScheduleKind::kConstant ? nullptr : MakeSchedule(config);
  return FindOptimizerKind(config.kind)->make(config, std::move(schedule));
}

}  // namespace crank
