#include "crank/train/tune.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/base/rng.h"
#include "crank/train/trainer.h"

namespace crank {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

// `v` rounded to 3 significant digits (exact through the YAML round trip of a float).
double ThreeDigits(double v) { return std::stod(fmt::format("{:.3g}", v)); }

double LogUniform(Rng& rng, double lo, double hi) {
  return ThreeDigits(std::exp(std::log(lo) + rng.UniformDouble() * (std::log(hi) - std::log(lo))));
}

template <typename T>
T Pick(Rng& rng, const std::vector<T>& values) {
  CRANK_REQUIRE(!values.empty(), "TuneSpace: an empty list of values");
  return values[rng.UniformInt(values.size())];
}

// Applies `f` to every Criteo encoding and every delimited field's encoding.
template <typename F>
void ForEachEncoding(DataConfig& d, F f) {
  if (d.format == DataFormat::kCriteo) {
    f(d.criteo.encoding);
    for (auto& [name, e] : d.criteo.fields) f(e);
  } else {
    for (SparseField& s : d.delimited.sparse) f(s.encoding);
  }
}

// The number of Criteo fields encoded by hashing (the tables that hash_buckets sizes).
int64_t HashedCriteoFields(const DataConfig& d) {
  if (d.format != DataFormat::kCriteo) return 0;
  int64_t n = 0;
  for (int i = 1; i <= CriteoConfig::kNumSparse; ++i) {
    auto it = d.criteo.fields.find(fmt::format("C{}", i));
    const Encoding& e = it == d.criteo.fields.end() ? d.criteo.encoding : it->second;
    if (e.kind == Encoding::Kind::kHash) ++n;
  }
  return n;
}

// Criteo data whose every field is hashed by the default encoding: a trial may encode it with
// vocabularies instead.
bool SwitchableToVocabulary(const DataConfig& d) {
  return d.format == DataFormat::kCriteo && d.criteo.fields.empty() &&
         d.criteo.encoding.kind == Encoding::Kind::kHash;
}

std::string InteractionText(const TrialParams& p) {
  if (p.interaction != Interaction::kCross)
    return std::string(NameOf(kInteractionNames, p.interaction));
  std::string s = fmt::format("cross{}", p.cross_layers);
  if (p.cross_projection_dim > 0) s += fmt::format("/r{}", p.cross_projection_dim);
  return s;
}

bool Better(double a, double b, bool higher_is_better) {
  if (std::isnan(b)) return !std::isnan(a);
  if (std::isnan(a)) return false;
  return higher_is_better ? a > b : a < b;
}

// Stops a trial at the deadline or on interrupt; remembers which.
class StopHook : public TrainHook {
 public:
  StopHook(const TuneEnv& env, double deadline) : env_(env), deadline_(deadline) {}
  HookAction OnStepEnd(const StepEndInfo&) override {
    if (env_.interrupted()) {
      interrupted_ = true;
      return HookAction::kStop;
    }
    if (env_.now_seconds() > deadline_) {
      out_of_time_ = true;
      return HookAction::kStop;
    }
    return HookAction::kContinue;
  }
  bool interrupted_ = false;
  bool out_of_time_ = false;

 private:
  const TuneEnv& env_;
  double deadline_;
};

}  // namespace

std::string TrialParams::Describe() const {
  std::string s = fmt::format("elr={:g} dlr={:g} l2={:g} dim={}", embedding_learning_rate,
                              dense_learning_rate, embedding_l2, embedding_dim);
  if (hash_buckets > 0) s += fmt::format(" buckets={}", hash_buckets);
  if (min_count > 0) s += fmt::format(" min_count={}", min_count);
  return s + fmt::format(" {} epochs={}", InteractionText(*this), epochs);
}

TrialParams ParamsOf(const JobConfig& c) {
  TrialParams p;
  p.embedding_learning_rate = ThreeDigits(c.embedding_optimizer.learning_rate);
  p.dense_learning_rate = ThreeDigits(c.dense_optimizer.learning_rate);
  p.embedding_l2 = c.model.embedding_l2;
  p.embedding_dim = c.model.embedding_dim;
  if (HashedCriteoFields(c.data) > 0) {
    p.hash_buckets = c.data.criteo.encoding.kind == Encoding::Kind::kHash
                         ? c.data.criteo.encoding.hash_buckets
                         : c.data.criteo.fields.begin()->second.hash_buckets;
    for (const auto& [name, e] : c.data.criteo.fields) {
      if (c.data.criteo.encoding.kind != Encoding::Kind::kHash && e.kind == Encoding::Kind::kHash)
        p.hash_buckets = e.hash_buckets;
    }
  }
  DataConfig d = c.data;
  ForEachEncoding(d, [&](Encoding& e) {
    if (p.min_count == 0 && e.kind == Encoding::Kind::kVocabulary)
      p.min_count = e.vocabulary.min_count;
  });
  p.interaction = c.model.interaction;
  p.cross_layers = c.model.cross_layers;
  p.cross_projection_dim = c.model.cross_projection_dim;
  p.epochs = c.train.epochs;
  return p;
}

void ApplyParams(const TrialParams& p, JobConfig* c) {
  c->embedding_optimizer.learning_rate = static_cast<float>(p.embedding_learning_rate);
  c->dense_optimizer.learning_rate = static_cast<float>(p.dense_learning_rate);
  c->model.embedding_l2 = static_cast<float>(p.embedding_l2);
  c->model.embedding_dim = p.embedding_dim;
  if (!c->model.bottom.empty()) c->model.bottom.back() = p.embedding_dim;
  const bool criteo = c->data.format == DataFormat::kCriteo;
  if (p.hash_buckets == 0 && p.min_count > 0 && SwitchableToVocabulary(c->data)) {
    c->data.criteo.encoding.kind = Encoding::Kind::kVocabulary;
    c->data.criteo.encoding.vocabulary.min_count = p.min_count;
  }
  ForEachEncoding(c->data, [&](Encoding& e) {
    if (criteo && p.hash_buckets > 0 && e.kind == Encoding::Kind::kHash)
      e.hash_buckets = p.hash_buckets;
    if (p.min_count > 0 && e.kind == Encoding::Kind::kVocabulary)
      e.vocabulary.min_count = p.min_count;
  });
  c->model.interaction = p.interaction;
  c->model.cross_layers = p.cross_layers;
  c->model.cross_projection_dim = p.cross_projection_dim;
  c->train.epochs = p.epochs;
}

TrialParams SampleParams(const TuneSpace& space, const JobConfig& base, uint64_t seed,
                         int64_t index) {
  CRANK_REQUIRE(index >= 1, "SampleParams: configuration indices start at 1");
  Rng rng = Rng(seed).Fork(static_cast<uint64_t>(index));
  const TrialParams of_base = ParamsOf(base);
  TrialParams p = of_base;
  p.embedding_learning_rate = LogUniform(rng, space.embedding_lr_min, space.embedding_lr_max);
  p.dense_learning_rate = LogUniform(rng, space.dense_lr_min, space.dense_lr_max);
  p.embedding_l2 = rng.UniformDouble() < space.l2_zero_probability
                       ? 0.0
                       : LogUniform(rng, space.l2_min, space.l2_max);
  const int64_t hashed = HashedCriteoFields(base.data);
  const bool may_switch = SwitchableToVocabulary(base.data) && !space.min_counts.empty() &&
                          space.vocabulary_probability > 0.0;
  for (int attempt = 0;; ++attempt) {
    p.embedding_dim = Pick(rng, space.embedding_dims);
    if (may_switch && rng.UniformDouble() < space.vocabulary_probability) {
      p.hash_buckets = 0;  // vocabularies of every field: their size is the data's
      p.min_count = Pick(rng, space.min_counts);
      break;
    }
    p.min_count = of_base.min_count;
    if (of_base.hash_buckets > 0) p.hash_buckets = Pick(rng, space.hash_buckets);
    if (hashed * p.hash_buckets * p.embedding_dim <= space.max_embedding_params) break;
    if (attempt == 100) {  // the space allows nothing under the cap: the smallest values
      p.embedding_dim = *std::min_element(space.embedding_dims.begin(), space.embedding_dims.end());
      p.hash_buckets = *std::min_element(space.hash_buckets.begin(), space.hash_buckets.end());
      break;
    }
  }
  if (of_base.min_count > 0) p.min_count = Pick(rng, space.min_counts);
  if (rng.UniformDouble() < space.cross_probability) {
    p.interaction = Interaction::kCross;
    p.cross_layers = Pick(rng, space.cross_layers);
    p.cross_projection_dim = Pick(rng, space.cross_projection_dims);
  } else {
    p.interaction = Interaction::kDot;
  }
  p.epochs = Pick(rng, space.epochs);
  return p;
}

double TrialCost::Estimate(double fraction, double epochs_of_trial) const {
  const double per_epoch = train_seconds / static_cast<double>(std::max<int64_t>(epochs, 1));
  return fraction * epochs_of_trial * per_epoch + other_seconds;
}

double EstimateBracket(const TuneOptions& o, const TrialCost& cost, const Bracket& bracket) {
  double mean_epochs = 0.0;
  for (int64_t e : o.space.epochs) mean_epochs += static_cast<double>(e);
  mean_epochs /= static_cast<double>(std::max<size_t>(o.space.epochs.size(), 1));
  double total = 0.0;
  for (const Rung& r : bracket) total += r.configs * cost.Estimate(r.fraction, mean_epochs);
  return total;
}

namespace {
Bracket MakeBracket(int eta, int s, int64_t n0) {
  Bracket b;
  int64_t scale = 1;
  for (int i = 0; i <= s; ++i) {
    b.push_back({std::max<int64_t>(1, n0 / scale), std::pow(static_cast<double>(eta), i - s)});
    scale *= eta;
  }
  b.back().fraction = 1.0;
  return b;
}
}  // namespace

std::vector<Bracket> PlanBrackets(const TuneOptions& o, const TrialCost& cost,
                                  double budget_seconds) {
  CRANK_REQUIRE(o.eta >= 2 && o.max_halvings >= 0 && o.max_configs_per_bracket >= 1,
                "TuneOptions: eta >= 2, max_halvings >= 0, max_configs_per_bracket >= 1");
  std::vector<Bracket> plan;
  double left = budget_seconds;
  while (plan.size() < 1000) {
    std::optional<Bracket> chosen;
    for (int s = o.max_halvings; s >= 0 && !chosen; --s) {
      const double smallest = std::pow(static_cast<double>(o.eta), -s);
      if (s > 0 && smallest * static_cast<double>(cost.rows) < o.min_rung_rows) continue;
      int64_t n = 1;
      for (int i = 0; i < s; ++i) n *= o.eta;
      if (n > o.max_configs_per_bracket && s > 0) continue;
      if (EstimateBracket(o, cost, MakeBracket(o.eta, s, n)) > left) continue;
      while (n < o.max_configs_per_bracket &&
             EstimateBracket(o, cost, MakeBracket(o.eta, s, n + 1)) <= left) {
        ++n;
      }
      chosen = MakeBracket(o.eta, s, n);
    }
    if (!chosen) break;
    left -= EstimateBracket(o, cost, *chosen);
    plan.push_back(*chosen);
  }
  return plan;
}

TrialRunner MakeTrainerRunner(const std::string& work_dir) {
  return [work_dir](const JobConfig& config, TrainHook* stop_hook) {
    namespace fs = std::filesystem;
    TrialOutcome o;
    TrainRun run;
    run.train_files = config.data.train_files;
    run.eval_files = config.data.eval_files;
    run.model_out = (fs::path(work_dir) / "trial.model").string();
    run.write_files = false;  // only the metrics are wanted: no checkpoint I/O per trial
    auto clean = [&] {
      std::error_code ignored;
      for (const char* suffix : {"", ".ckpt", ".best"}) fs::remove(run.model_out + suffix, ignored);
    };
    try {
      Trainer trainer(config, run);
      trainer.AddHook(stop_hook);
      const TrainResult r = trainer.Fit();
      o.metrics = r.final_eval;
      o.rows = r.train_examples;
      o.epochs_completed = r.state.epoch;
      o.train_seconds = r.train_seconds;
      o.stopped = r.stopped_by_hook;
    } catch (const ConfigError&) {
      clean();
      throw;
    } catch (const IoError&) {
      clean();
      throw;
    } catch (const std::exception& e) {
      o.error = e.what();
    }
    clean();
    return o;
  };
}

TuneResult Tune(const JobConfig& base, const TuneOptions& options, const TuneEnv& env) {
  if (base.data.eval_files.empty())
    throw ConfigError("--eval: tune needs evaluation data to compare the trials");
  if (base.data.train_files.empty()) throw ConfigError("--train: no training data");
  TuneResult result;
  result.higher_is_better = base.data.task == LabelKind::kBinary;
  result.metric_name = result.higher_is_better ? "auc" : "rmse";
  const double start = env.now_seconds();
  const double deadline = start + options.budget_seconds;

  // Runs one trial; returns its record (appended to result.trials).
  auto run_trial = [&](int64_t config_id, int64_t bracket, int64_t rung, double fraction,
                       int64_t max_steps, const TrialParams& p) -> const TrialRecord& {
    JobConfig c = base;
    ApplyParams(p, &c);
    if (max_steps > 0) {
      c.train.max_steps = max_steps;
      c.train.eval_every = max_steps;  // evaluate where the trial stops
    }
    TrialRecord rec;
    rec.id = static_cast<int64_t>(result.trials.size());
    rec.config = config_id;
    rec.bracket = bracket;
    rec.rung = rung;
    rec.fraction = fraction;
    rec.max_steps = max_steps;
    rec.params = p;
    StopHook hook(env, deadline);
    const double t0 = env.now_seconds();
    const TrialOutcome out = env.runner(c, &hook);
    rec.seconds = env.now_seconds() - t0;
    rec.rows = out.rows;
    rec.train_seconds = out.train_seconds;
    rec.epochs_completed = out.epochs_completed;
    rec.metric = kNaN;
    if (!out.error.empty()) {
      rec.status = "failed: " + out.error;
    } else if (out.stopped || hook.interrupted_ || hook.out_of_time_) {
      rec.status = hook.interrupted_ ? "stopped: interrupted" : "stopped: budget";
      if (hook.interrupted_) result.interrupted = true;
      if (hook.out_of_time_) result.budget_exhausted = true;
    } else if (auto it = out.metrics.find(result.metric_name); it != out.metrics.end()) {
      rec.metric = it->second;
      rec.status = "ok";
    } else {
      rec.status = "failed: no " + result.metric_name + " in the evaluation";
    }
    result.trials.push_back(rec);
    if (env.on_trial) env.on_trial(result.trials.back());
    return result.trials.back();
  };

  // Trial 0: the base configuration on all rows; the cost estimate and the row count.
  const TrialRecord& first = run_trial(0, 0, 0, 1.0, 0, ParamsOf(base));
  if (first.status.rfind("failed", 0) == 0) {
    throw DataError(fmt::format("tune: trial 0 (the base configuration) {}", first.status));
  }
  if (first.status == "ok") {
    TrialCost cost;
    cost.train_seconds = first.train_seconds;
    cost.other_seconds = std::max(0.0, first.seconds - first.train_seconds);
    cost.epochs = std::max<int64_t>(first.epochs_completed, 1);
    cost.rows = first.rows / cost.epochs;
    result.cost = cost;
    const int64_t steps_per_epoch =
        std::max<int64_t>(1, (cost.rows + base.train.batch_size - 1) / base.train.batch_size);
    int64_t next_config = 1;
    int64_t bracket_id = 0;
    bool stop = false;
    while (!stop) {
      const std::vector<Bracket> plan = PlanBrackets(options, cost, deadline - env.now_seconds());
      if (plan.empty()) {
        result.budget_exhausted = true;
        break;
      }
      for (const Bracket& bracket : plan) {
        ++bracket_id;
        std::vector<std::pair<int64_t, TrialParams>> alive;
        for (int64_t k = 0; k < bracket.front().configs; ++k) {
          alive.emplace_back(next_config,
                             SampleParams(options.space, base, options.seed, next_config));
          ++next_config;
        }
        for (size_t rung = 0; rung < bracket.size() && !stop; ++rung) {
          const double fraction = bracket[rung].fraction;
          std::vector<std::pair<double, size_t>> scores;  // metric, index into alive
          for (size_t k = 0; k < alive.size(); ++k) {
            const TrialParams& p = alive[k].second;
            if (env.interrupted()) {
              result.interrupted = true;
              stop = true;
              break;
            }
            if (env.now_seconds() + cost.Estimate(fraction, static_cast<double>(p.epochs)) >
                deadline) {
              result.budget_exhausted = true;
              stop = true;
              break;
            }
            const int64_t max_steps =
                fraction >= 1.0
                    ? 0
                    : std::max<int64_t>(1, std::llround(fraction * static_cast<double>(p.epochs) *
                                                        static_cast<double>(steps_per_epoch)));
            const TrialRecord& rec = run_trial(alive[k].first, bracket_id,
                                               static_cast<int64_t>(rung), fraction, max_steps, p);
            if (rec.status.rfind("stopped", 0) == 0) {
              stop = true;
              break;
            }
            if (!std::isnan(rec.metric)) scores.emplace_back(rec.metric, k);  // failed: out
          }
          if (stop || rung + 1 == bracket.size()) break;
          // Keep the best configs for the next rung (ties: the earlier configuration); a
          // failed trial's configuration goes no further.
          std::stable_sort(scores.begin(), scores.end(), [&](const auto& a, const auto& b) {
            return Better(a.first, b.first, result.higher_is_better);
          });
          std::vector<std::pair<int64_t, TrialParams>> kept;
          const size_t keep = std::min<size_t>(bracket[rung + 1].configs, scores.size());
          for (size_t i = 0; i < keep; ++i) kept.push_back(alive[scores[i].second]);
          alive = std::move(kept);
        }
        if (stop) break;
      }
    }
  }

  // The best full-data trial.
  for (size_t i = 0; i < result.trials.size(); ++i) {
    const TrialRecord& t = result.trials[i];
    if (t.fraction < 1.0 || t.status != "ok") continue;
    if (result.best_trial < 0 ||
        Better(t.metric, result.trials[result.best_trial].metric, result.higher_is_better)) {
      result.best_trial = static_cast<int64_t>(i);
    }
  }
  result.best_config = base;
  if (result.best_trial >= 0)
    ApplyParams(result.trials[result.best_trial].params, &result.best_config);
  return result;
}

double ParseDuration(const std::string& text, const std::string& flag) {
  static const std::regex kDuration(R"(\s*([0-9]*\.?[0-9]+(?:[eE][-+]?[0-9]+)?)\s*([smh]?)\s*)");
  std::smatch m;
  if (!std::regex_match(text, m, kDuration)) {
    throw ConfigError(
        fmt::format("{}: expected a duration such as 600, 90s, 10m or 1.5h, got '{}'", flag, text));
  }
  double v = std::stod(m[1].str());
  if (m[2] == "m") v *= 60;
  if (m[2] == "h") v *= 3600;
  if (!(v > 0) || !std::isfinite(v))
    throw ConfigError(fmt::format("{}: expected a duration > 0, got '{}'", flag, text));
  return v;
}

namespace {
struct Column {
  const char* name;
  int width;
};
constexpr Column kColumns[] = {{"trial", 5},        {"config", 6}, {"bracket", 7}, {"rung", 4},
                               {"fraction", 8},     {"rows", 9},   {"elr", 8},     {"dlr", 8},
                               {"l2", 8},           {"dim", 3},    {"buckets", 7}, {"min_count", 9},
                               {"interaction", 11}, {"epochs", 6}, {"metric", 8},  {"seconds", 8},
                               {"status", 0}};

std::vector<std::string> Cells(const TrialRecord& t) {
  const TrialParams& p = t.params;
  return {fmt::format("{}", t.id),
          fmt::format("{}", t.config),
          fmt::format("{}", t.bracket),
          fmt::format("{}", t.rung),
          fmt::format("{:.4g}", t.fraction),
          fmt::format("{}", t.rows),
          fmt::format("{:g}", p.embedding_learning_rate),
          fmt::format("{:g}", p.dense_learning_rate),
          fmt::format("{:g}", p.embedding_l2),
          fmt::format("{}", p.embedding_dim),
          p.hash_buckets > 0 ? fmt::format("{}", p.hash_buckets) : "-",
          p.min_count > 0 ? fmt::format("{}", p.min_count) : "-",
          InteractionText(p),
          fmt::format("{}", p.epochs),
          std::isnan(t.metric) ? "-" : fmt::format("{:.5f}", t.metric),
          fmt::format("{:.1f}", t.seconds),
          t.status};
}

std::string Join(const std::vector<std::string>& cells, bool tsv) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += tsv ? "\t" : "  ";
    line += tsv || kColumns[i].width == 0 ? cells[i]
                                          : fmt::format("{:>{}}", cells[i], kColumns[i].width);
  }
  return line + "\n";
}
}  // namespace

std::string TrialTableHeader(const std::string& metric_name, bool tsv) {
  std::vector<std::string> names;
  for (const Column& c : kColumns) names.emplace_back(c.name);
  names[14] = metric_name;
  return Join(names, tsv);
}

std::string TrialTableRow(const TrialRecord& trial, bool tsv) { return Join(Cells(trial), tsv); }

std::string TrialTable(const TuneResult& result, bool tsv) {
  std::string s = TrialTableHeader(result.metric_name, tsv);
  for (const TrialRecord& t : result.trials) s += TrialTableRow(t, tsv);
  return s;
}

std::string TrialsJson(const TuneResult& result) {
  using Json = nlohmann::json;
  Json trials = Json::array();
  for (const TrialRecord& t : result.trials) {
    const TrialParams& p = t.params;
    Json params = {{"embedding_learning_rate", p.embedding_learning_rate},
                   {"dense_learning_rate", p.dense_learning_rate},
                   {"embedding_l2", p.embedding_l2},
                   {"embedding_dim", p.embedding_dim},
                   {"interaction", std::string(NameOf(kInteractionNames, p.interaction))},
                   {"epochs", p.epochs}};
    if (p.interaction == Interaction::kCross) {
      params["cross_layers"] = p.cross_layers;
      params["cross_projection_dim"] = p.cross_projection_dim;
    }
    if (p.hash_buckets > 0) params["hash_buckets"] = p.hash_buckets;
    if (p.min_count > 0) params["min_count"] = p.min_count;
    trials.push_back({{"trial", t.id},
                      {"config", t.config},
                      {"bracket", t.bracket},
                      {"rung", t.rung},
                      {"fraction", t.fraction},
                      {"max_steps", t.max_steps},
                      {"rows", t.rows},
                      {"params", params},
                      {result.metric_name, std::isnan(t.metric) ? Json() : Json(t.metric)},
                      {"seconds", t.seconds},
                      {"status", t.status}});
  }
  Json j = {{"metric", result.metric_name},
            {"higher_is_better", result.higher_is_better},
            {"best_trial", result.best_trial >= 0 ? Json(result.best_trial) : Json()},
            {"interrupted", result.interrupted},
            {"budget_exhausted", result.budget_exhausted},
            {"trials", trials}};
  return j.dump(2) + "\n";
}

}  // namespace crank
