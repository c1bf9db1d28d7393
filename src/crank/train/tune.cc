#include "crank/train/tune.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <limits>
#include <map>
#include <optional>
#include <regex>
#include <set>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/base/rng.h"
#include "crank/train/trainer.h"
#include "crank/train/tune_portfolio.h"
#include "crank/train/tune_refine.h"

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

bool SwitchableToVocabulary(const DataConfig& d) {
  return d.format == DataFormat::kCriteo && d.criteo.fields.empty() &&
         d.criteo.encoding.kind == Encoding::Kind::kHash;
}

std::string TrialParams::InteractionText() const {
  if (interaction != Interaction::kCross)
    return std::string(NameOf(kInteractionNames, interaction));
  std::string s = fmt::format("cross{}", cross_layers);
  if (cross_projection_dim > 0) s += fmt::format("/r{}", cross_projection_dim);
  return s;
}

std::string TrialParams::Describe() const {
  std::string s = fmt::format("elr={:g} dlr={:g} l2={:g}", embedding_learning_rate,
                              dense_learning_rate, embedding_l2);
  if (l2_catch_up > 0) s += fmt::format(" catch_up={}", l2_catch_up);
  s += fmt::format(" dim={}", embedding_dim);
  if (hash_buckets > 0) s += fmt::format(" buckets={}", hash_buckets);
  if (min_count > 0) s += fmt::format(" min_count={}", min_count);
  return s + fmt::format(" {} epochs={}", InteractionText(), epochs);
}

TrialParams ParamsOf(const JobConfig& c) {
  TrialParams p;
  p.embedding_learning_rate = ThreeDigits(c.embedding_optimizer.learning_rate);
  p.dense_learning_rate = ThreeDigits(c.dense_optimizer.learning_rate);
  p.embedding_l2 = c.model.embedding_l2;
  p.l2_catch_up = c.model.embedding_l2 != 0.0f ? c.model.embedding_l2_catch_up : 0;
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
  c->model.embedding_l2_catch_up = p.l2_catch_up;
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

TuneSpace GrownSpace(const TuneSpace& space, int64_t rows_per_epoch) {
  TuneSpace grown = space;
  if (space.large_data_rows <= 0 || rows_per_epoch < space.large_data_rows) return grown;
  const auto merge = [](std::vector<int64_t>* into, const std::vector<int64_t>& extra) {
    if (extra.empty()) return;
    into->insert(into->end(), extra.begin(), extra.end());
    std::sort(into->begin(), into->end());
    into->erase(std::unique(into->begin(), into->end()), into->end());
  };
  merge(&grown.embedding_dims, space.large_data_embedding_dims);
  merge(&grown.min_counts, space.large_data_min_counts);
  merge(&grown.l2_catch_ups, space.large_data_l2_catch_ups);
  return grown;
}

std::string DescribeGrownLists(const TuneSpace& space) {
  return fmt::format("embedding dims {}; min counts {}; l2 catch-ups {}",
                     fmt::join(space.embedding_dims, ","), fmt::join(space.min_counts, ","),
                     fmt::join(space.l2_catch_ups, ","));
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
  // Last, and only from a choice: the draws above stay those of a space without catch-up.
  p.l2_catch_up = space.l2_catch_ups.size() > 1 ? Pick(rng, space.l2_catch_ups)
                  : space.l2_catch_ups.empty()  ? 0
                                                : space.l2_catch_ups.front();
  if (p.embedding_l2 == 0.0) p.l2_catch_up = 0;
  return p;
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

namespace {

// The time reserved for a full-data trial is its estimate times this: estimates of configurations
// not yet measured come from trial 0 and a work ratio.
constexpr double kReserveMargin = 1.1;

// The configuration of a trial of `p` (configuration `config_id`) on all rows.
JobConfig TrialConfig(const JobConfig& base, const TuneOptions& o, int64_t config_id,
                      const TrialParams& p) {
  JobConfig c = base;
  ApplyParams(p, &c);
  if (config_id > 0 && base.train.early_stopping_patience == 0)
    c.train.early_stopping_patience = o.early_stopping_patience;
  return c;
}

// One search: the trials run so far, what they measured of each configuration, and the
// schedule of Tune() (the header's steps 1-5).
class Search {
 public:
  Search(const JobConfig& base, const TuneOptions& options, const TuneEnv& env, TuneResult* result)
      : base_(base), options_(options), env_(env), result_(*result), space_(options.space) {
    deadline_ = env.now_seconds() + options.budget_seconds;
    limit_ = deadline_ - std::clamp(options.refine_share, 0.0, 1.0) * options.budget_seconds;
    result_.space = space_;
  }

  // Trains trial 0, then the brackets and the final rung.
  void Run() {
    const TrialRecord& first = RunTrial(0, 0, 0, 1.0, 0, ParamsOf(base_));
    if (first.status.rfind("failed", 0) == 0) {
      throw DataError(fmt::format("tune: trial 0 (the base configuration) {}", first.status));
    }
    if (first.status != "ok") return;
    cost_.train_seconds = first.train_seconds;
    cost_.other_seconds = std::max(0.0, first.seconds - first.train_seconds);
    cost_.epochs = std::max<int64_t>(first.epochs_completed, 1);
    cost_.rows = first.rows / cost_.epochs;
    cost_.work = StepWork(base_);
    result_.cost = cost_;
    steps_per_epoch_ =
        std::max<int64_t>(1, (cost_.rows + base_.train.batch_size - 1) / base_.train.batch_size);
    space_ = GrownSpace(options_.space, cost_.rows);
    result_.space = space_;
    result_.space_grew = space_.embedding_dims != options_.space.embedding_dims ||
                         space_.min_counts != options_.space.min_counts ||
                         space_.l2_catch_ups != options_.space.l2_catch_ups;
    if (options_.portfolio) portfolio_ = PortfolioParams(space_, base_);
    if (RunBrackets() && FinalRung() && options_.refine_share > 0) Refine();
  }

 private:
  // What the trials measured of one configuration (config id >= 1).
  struct Known {
    int64_t config = 0;
    TrialParams params;
    double work = 0.0;          // StepWork
    double step_seconds = 0.0;  // measured by its latest completed trial; 0 = none yet
    double fraction = 0.0;      // the largest fraction of a completed partial trial; 0 = none
    double metric = kNaN;       // at that fraction
    int64_t trial = -1, bracket = 0, rung = 0;  // that trial
    bool full = false;                          // a full-data trial ran (whatever its end)
    bool failed = false;                        // a trial failed: not trained further
  };

  TrialParams ParamsOfConfig(int64_t k) const {
    if (k <= static_cast<int64_t>(portfolio_.size())) return portfolio_[k - 1];
    if (auto it = known_.find(k); it != known_.end()) return it->second.params;
    return SampleParams(space_, base_, options_.seed, k);
  }

  // True when configuration k is a draw equal to a portfolio entry (which ran as such).
  bool RepeatsThePortfolio(int64_t k) const {
    if (k <= static_cast<int64_t>(portfolio_.size())) return false;
    const std::string drawn = ParamsOfConfig(k).Describe();
    for (const TrialParams& p : portfolio_) {
      if (p.Describe() == drawn) return true;
    }
    return false;
  }

  Known& KnownOf(int64_t k, const TrialParams& p) {
    auto [it, inserted] = known_.try_emplace(k);
    if (inserted) {
      JobConfig c = base_;
      ApplyParams(p, &c);
      it->second.config = k;
      it->second.params = p;
      it->second.work = StepWork(c);
    }
    return it->second;
  }

  int64_t MaxSteps(const TrialParams& p, double fraction) const {
    if (fraction >= 1.0) return 0;
    return std::max<int64_t>(1, std::llround(fraction * static_cast<double>(p.epochs) *
                                             static_cast<double>(steps_per_epoch_)));
  }

  double Estimate(const Known& k, double fraction) const {
    const int64_t max_steps = MaxSteps(k.params, fraction);
    const int64_t steps = max_steps > 0 ? max_steps : k.params.epochs * steps_per_epoch_;
    return EstimateTrial(cost_, steps_per_epoch_, steps, max_steps > 0 ? 1 : k.params.epochs,
                         k.work, k.step_seconds);
  }

  // True when `seconds` fit before the current stage's end: the brackets' limit, then (in the
  // refinement) the deadline.
  bool Fits(double seconds) const { return env_.now_seconds() + seconds <= limit_; }

  // The configurations a full-data trial may still be given, best first: those with a
  // completed partial trial and no full-data one, by the largest fraction reached, then the
  // metric there, then the earlier trial.
  std::vector<const Known*> Candidates() const {
    std::vector<const Known*> out;
    for (const auto& [id, k] : known_) {
      if (!k.full && !k.failed && k.fraction > 0) out.push_back(&k);
    }
    std::sort(out.begin(), out.end(), [&](const Known* a, const Known* b) {
      if (a->fraction != b->fraction) return a->fraction > b->fraction;
      if (a->metric != b->metric) return Better(a->metric, b->metric, result_.higher_is_better);
      return a->trial < b->trial;
    });
    return out;
  }

  // The best candidate whose full-data trial fits the time left; nullptr when none.
  const Known* BestFittingCandidate() const {
    for (const Known* k : Candidates()) {
      if (Fits(Estimate(*k, 1.0))) return k;
    }
    return nullptr;
  }

  const TrialRecord& RunTrial(int64_t config_id, int64_t bracket, int64_t rung, double fraction,
                              int64_t max_steps, const TrialParams& p, int64_t parent = -1) {
    JobConfig c = TrialConfig(base_, options_, config_id, p);
    if (max_steps > 0) {
      c.train.max_steps = max_steps;
      c.train.eval_every = max_steps;  // evaluate where the trial stops
    }
    TrialRecord rec;
    rec.id = static_cast<int64_t>(result_.trials.size());
    rec.config = config_id;
    rec.portfolio = config_id >= 1 && config_id <= static_cast<int64_t>(portfolio_.size());
    rec.parent = parent;
    rec.bracket = bracket;
    rec.rung = rung;
    rec.fraction = fraction;
    rec.max_steps = max_steps;
    rec.params = p;
    StopHook hook(env_, deadline_);
    const double t0 = env_.now_seconds();
    const TrialOutcome out = env_.runner(c, &hook);
    rec.seconds = env_.now_seconds() - t0;
    rec.rows = out.rows;
    rec.train_seconds = out.train_seconds;
    rec.epochs_completed = out.epochs_completed;
    rec.metric = kNaN;
    if (!out.error.empty()) {
      rec.status = "failed: " + out.error;
    } else if (out.stopped || hook.interrupted_ || hook.out_of_time_) {
      rec.status = hook.interrupted_ ? "stopped: interrupted" : "stopped: budget";
      if (hook.interrupted_) result_.interrupted = true;
      if (hook.out_of_time_) result_.budget_exhausted = true;
    } else if (auto it = out.metrics.find(result_.metric_name); it != out.metrics.end()) {
      rec.metric = it->second;
      rec.status = "ok";
    } else {
      rec.status = "failed: no " + result_.metric_name + " in the evaluation";
    }
    if (config_id > 0) Note(rec);
    result_.trials.push_back(rec);
    if (env_.on_trial) env_.on_trial(result_.trials.back());
    return result_.trials.back();
  }

  // Records what `rec` measured of its configuration.
  void Note(const TrialRecord& rec) {
    Known& k = KnownOf(rec.config, rec.params);
    if (rec.fraction >= 1.0) k.full = true;
    if (rec.status.rfind("failed", 0) == 0) k.failed = true;
    if (rec.status != "ok") return;
    if (rec.train_seconds > 0)
      k.step_seconds = rec.train_seconds / static_cast<double>(StepsOf(rec.rows));
    if (rec.fraction < 1.0 && rec.fraction >= k.fraction) {
      k.fraction = rec.fraction;
      k.metric = rec.metric;
      k.trial = rec.id;
      k.bracket = rec.bracket;
      k.rung = rec.rung;
    }
  }

  // The brackets while their trials fit; true when the final rung is to follow (the budget
  // cut the brackets), false when the search stopped (interrupt, a trial stopped).
  bool RunBrackets() {
    // The plan assumes the median step cost of the first configurations, not the base's (the
    // median: a few full-rank cross models cost tens of times the rest).
    TrialCost plan_cost = cost_;
    constexpr int64_t kPlanSample = 31;
    std::vector<double> works;
    for (int64_t k = 1; k <= kPlanSample; ++k) works.push_back(KnownOf(k, ParamsOfConfig(k)).work);
    std::nth_element(works.begin(), works.begin() + kPlanSample / 2, works.end());
    if (cost_.work > 0) plan_cost.train_seconds *= works[kPlanSample / 2] / cost_.work;
    int64_t next_config = 1;
    int64_t& bracket_id = bracket_id_;
    for (;;) {
      const std::vector<Bracket> plan =
          PlanBrackets(options_, plan_cost, deadline_ - env_.now_seconds());
      if (plan.empty()) break;
      bool ran = false;
      for (const Bracket& bracket : plan) {
        ++bracket_id;
        std::vector<int64_t> alive;
        for (int64_t k = 0; k < bracket.front().configs; ++k) {
          while (RepeatsThePortfolio(next_config)) ++next_config;
          alive.push_back(next_config++);
        }
        for (size_t rung = 0; rung < bracket.size(); ++rung) {
          const double fraction = bracket[rung].fraction;
          std::vector<std::pair<double, int64_t>> scores;  // metric, config
          for (int64_t id : alive) {
            if (env_.interrupted()) {
              result_.interrupted = true;
              return false;
            }
            const Known& k = KnownOf(id, ParamsOfConfig(id));
            const double seconds = Estimate(k, fraction);
            // A configuration that could not then be trained on all rows is skipped; a trial
            // that would take the time reserved for the best candidate's full-data trial ends
            // the brackets (the final rung trains that candidate first).
            const double own_full = fraction < 1.0 ? kReserveMargin * Estimate(k, 1.0) : 0.0;
            if (!Fits(seconds + own_full)) {
              result_.budget_exhausted = true;
              continue;
            }
            const Known* best = BestFittingCandidate();
            if (best != nullptr && best != &k &&
                !Fits(seconds + kReserveMargin * Estimate(*best, 1.0))) {
              return true;
            }
            const TrialRecord& rec = RunTrial(id, bracket_id, static_cast<int64_t>(rung), fraction,
                                              MaxSteps(k.params, fraction), k.params);
            ran = true;
            if (rec.status.rfind("stopped", 0) == 0) return false;
            if (!std::isnan(rec.metric)) scores.emplace_back(rec.metric, id);  // failed: out
          }
          if (rung + 1 == bracket.size()) break;
          // Keep the best configs for the next rung (ties: the earlier configuration); a
          // failed trial's configuration goes no further.
          std::stable_sort(scores.begin(), scores.end(), [&](const auto& a, const auto& b) {
            return Better(a.first, b.first, result_.higher_is_better);
          });
          const size_t keep = std::min<size_t>(bracket[rung + 1].configs, scores.size());
          alive.clear();
          for (size_t i = 0; i < keep; ++i) alive.push_back(scores[i].second);
        }
      }
      if (!ran) break;  // nothing of this plan fits: no other plan will
    }
    return true;
  }

  // The final rung: the candidates on all rows, best first, each while it fits. True when it
  // ended for the time (the refinement may follow), false when a trial stopped or on interrupt.
  bool FinalRung() {
    result_.budget_exhausted = true;  // the brackets ended for the budget
    for (;;) {
      if (env_.interrupted()) {
        result_.interrupted = true;
        return false;
      }
      const Known* k = BestFittingCandidate();
      if (k == nullptr) return true;
      const TrialRecord& rec = RunTrial(k->config, k->bracket, k->rung + 1, 1.0, 0, k->params);
      if (rec.status.rfind("stopped", 0) == 0) return false;
    }
  }

  // The refinement (tune_refine.h), up to the deadline: full-data trials of the neighbours of
  // the best full-data configuration (trial 0 included), in Neighbours() order, each that fits
  // and has not been trained on all rows; the first that beats it becomes the configuration
  // whose neighbours are tried next. Ends when no neighbour is left or fits.
  void Refine() {
    limit_ = deadline_;
    const TrialRecord* best = nullptr;
    std::set<std::string> trained;  // the configurations trained on all rows
    for (const TrialRecord& t : result_.trials) {
      if (t.fraction < 1.0) continue;
      trained.insert(t.params.Describe());
      if (t.status == "ok" &&
          (best == nullptr || Better(t.metric, best->metric, result_.higher_is_better))) {
        best = &t;
      }
    }
    if (best == nullptr) return;
    int64_t config = best->config;
    TrialParams params = best->params;
    double metric = best->metric;
    bool overfit = best->epochs_completed < best->params.epochs;
    std::optional<MeasuredRun> parent_run = MeasuredRunOf(*best);
    const int64_t bracket = bracket_id_ + 1;
    for (bool moved = true; moved;) {
      moved = false;
      for (const TrialParams& q :
           RefinementOrder(Neighbours(space_, base_, params), params, overfit)) {
        if (!trained.insert(q.Describe()).second) continue;
        if (env_.interrupted()) {
          result_.interrupted = true;
          return;
        }
        const Known& k = KnownOf(ConfigOf(q), q);
        // A step is estimated from its parent's full-data trial: its step time and the epochs
        // the patience let it train.
        const double seconds =
            parent_run ? EstimateFromRun(*parent_run, steps_per_epoch_, q.epochs, k.work)
                       : Estimate(k, 1.0);
        if (!Fits(seconds)) continue;
        const TrialRecord& rec = RunTrial(k.config, bracket, 0, 1.0, 0, q, config);
        if (rec.status.rfind("stopped", 0) == 0) return;
        if (rec.status == "ok" && Better(rec.metric, metric, result_.higher_is_better)) {
          config = rec.config;
          params = q;
          metric = rec.metric;
          overfit = rec.epochs_completed < q.epochs;
          parent_run = MeasuredRunOf(rec);
          moved = true;
          break;
        }
      }
    }
  }

  // What the completed full-data trial `rec` measured; nullopt when it measured no training.
  std::optional<MeasuredRun> MeasuredRunOf(const TrialRecord& rec) const {
    MeasuredRun run;
    run.seconds = rec.seconds;
    run.train_seconds = rec.train_seconds;
    run.steps = StepsOf(rec.rows);
    run.epochs_completed = rec.epochs_completed;
    run.epochs = rec.params.epochs;
    run.work = known_.count(rec.config) ? known_.at(rec.config).work : cost_.work;
    if (run.train_seconds <= 0 || rec.rows <= 0 || run.epochs_completed <= 0) return std::nullopt;
    return run;
  }

  // Training steps of a trial that trained on `rows` examples.
  int64_t StepsOf(int64_t rows) const {
    const int64_t batch = base_.train.batch_size;
    return std::max<int64_t>(1, (rows + batch - 1) / batch);
  }

  // The id of the configuration with the values `p`: one already tried, else the next of the
  // refinement's own ids (kFirstRefinedConfig, ...), which no draw takes whatever the budget.
  int64_t ConfigOf(const TrialParams& p) {
    const std::string text = p.Describe();
    for (const auto& [id, k] : known_) {
      if (k.params.Describe() == text) return id;
    }
    return next_refined_++;
  }

  const JobConfig& base_;
  const TuneOptions& options_;
  const TuneEnv& env_;
  TuneResult& result_;
  TuneSpace space_;  // options_.space, grown for trial 0's rows (GrownSpace)
  double deadline_ = 0.0;
  double limit_ = 0.0;  // the end of the brackets and their final rung
  std::vector<TrialParams> portfolio_;
  int64_t next_refined_ = kFirstRefinedConfig;
  int64_t bracket_id_ = 0;  // the last bracket started
  TrialCost cost_;
  int64_t steps_per_epoch_ = 1;
  std::map<int64_t, Known> known_;
};

}  // namespace

TuneResult Tune(const JobConfig& base, const TuneOptions& options, const TuneEnv& env) {
  if (base.data.eval_files.empty())
    throw ConfigError("--eval: tune needs evaluation data to compare the trials");
  if (base.data.train_files.empty()) throw ConfigError("--train: no training data");
  TuneResult result;
  result.higher_is_better = base.data.task == LabelKind::kBinary;
  result.metric_name = result.higher_is_better ? "auc" : "rmse";
  Search(base, options, env, &result).Run();

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
  if (result.best_trial >= 0) {
    const TrialRecord& best = result.trials[result.best_trial];
    result.best_config = TrialConfig(base, options, best.config, best.params);
  }
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

}  // namespace crank
