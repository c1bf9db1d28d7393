#include "crank/train/tune_plan.h"

#include <algorithm>
#include <cmath>
#include <optional>

#include "crank/base/error.h"
#include "crank/data/config.h"
#include "crank/train/tune.h"

namespace crank {

double TrialCost::Estimate(double fraction, double epochs_of_trial) const {
  const double per_epoch = train_seconds / static_cast<double>(std::max<int64_t>(epochs, 1));
  return fraction * epochs_of_trial * per_epoch + other_seconds;
}

double StepWork(const JobConfig& c) {
  // An embedding element gathered, its gradient scattered and its optimizer state updated:
  // memory-bound work, weighed as this many multiply-adds.
  constexpr double kEmbeddingElementWork = 16.0;
  const ModelConfig& m = c.model;
  const bool criteo = c.data.format == DataFormat::kCriteo;
  const double f =
      criteo ? CriteoConfig::kNumSparse : static_cast<double>(c.data.delimited.sparse.size());
  const double d =
      criteo ? CriteoConfig::kNumDense : static_cast<double>(c.data.delimited.dense.size());
  const double e = static_cast<double>(m.embedding_dim);
  double work = kEmbeddingElementWork * f * e;
  double width = d;
  const bool bottom = d > 0 && !m.bottom.empty();
  if (bottom) {
    for (int64_t w : m.bottom) {
      work += width * static_cast<double>(w);
      width = static_cast<double>(w);
    }
  }
  double top_in = bottom ? width : 0.0;  // F == 0: the bottom output alone
  if (f > 0) {
    const double vectors = f + (bottom ? 1.0 : 0.0);  // [B, vectors, E]
    switch (m.interaction) {
      case Interaction::kDot: {
        const double pairs = vectors * (vectors - 1) / 2 + (m.dot_self_interaction ? vectors : 0);
        work += pairs * e;
        top_in = pairs + (bottom && m.concat_dense ? width : 0.0);
        break;
      }
      case Interaction::kCross: {
        const double w = vectors * e;
        const double per_layer = m.cross_projection_dim > 0
                                     ? 2 * w * static_cast<double>(m.cross_projection_dim)
                                     : w * w;
        work += static_cast<double>(m.cross_layers) * per_layer;
        top_in = w;
        break;
      }
      case Interaction::kConcat:
        top_in = vectors * e;
        break;
    }
  }
  for (int64_t w : m.top) {
    work += top_in * static_cast<double>(w);
    top_in = static_cast<double>(w);
  }
  return work;
}

double EstimateTrial(const TrialCost& cost, int64_t steps_per_epoch, int64_t steps,
                     int64_t evaluations, double work, double step_seconds) {
  if (!(step_seconds > 0)) {
    const double base_steps = static_cast<double>(std::max<int64_t>(cost.epochs, 1) *
                                                  std::max<int64_t>(steps_per_epoch, 1));
    step_seconds = cost.train_seconds / base_steps;
    if (cost.work > 0 && work > 0) step_seconds *= work / cost.work;
  }
  return static_cast<double>(steps) * step_seconds +
         static_cast<double>(evaluations) * cost.other_seconds;
}

double EstimateFromRun(const MeasuredRun& run, int64_t steps_per_epoch, int64_t epochs,
                       double work) {
  CRANK_CHECK(run.steps > 0 && run.epochs_completed > 0 && run.train_seconds > 0);
  double step_seconds = run.train_seconds / static_cast<double>(run.steps);
  if (run.work > 0 && work > 0) step_seconds *= work / run.work;
  const double other_per_epoch =
      std::max(0.0, run.seconds - run.train_seconds) / static_cast<double>(run.epochs_completed);
  int64_t expected = std::max<int64_t>(epochs, 1);
  if (run.epochs_completed < run.epochs) expected = std::min(expected, run.epochs_completed);
  return static_cast<double>(expected * std::max<int64_t>(steps_per_epoch, 1)) * step_seconds +
         static_cast<double>(expected) * other_per_epoch;
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

}  // namespace crank
