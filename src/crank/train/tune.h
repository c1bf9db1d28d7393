#ifndef CRANK_TRAIN_TUNE_H_
#define CRANK_TRAIN_TUNE_H_

// Hyperparameter search within a time budget, behind `crank tune` (docs/tune.md).
//
// The search is successive halving (the brackets of Hyperband) over the values of TrialParams:
// embedding and dense learning rates, embedding L2, embedding dimension, Criteo hash buckets or
// vocabulary min_count, interaction (dot, or cross with 1-3 layers, full or low rank) and epochs.
//  1. Trial 0 trains the base configuration on all training rows. Its time gives the cost
//     estimate (TrialCost) and its row count the steps of the partial rungs; its metric is the
//     baseline.
//  2. From the budget left and that estimate, PlanBrackets() fixes the brackets: each starts
//     n configurations on a fraction eta^-s of the training steps and keeps the best 1/eta of
//     them at each rung until the last rung trains on all rows (max_steps 0).
//  3. The space grows with the data: on trial 0's rows per epoch, GrownSpace() may add larger
//     embedding dimensions and min_counts. The first configurations are the portfolio
//     (PortfolioParams, tune_portfolio.h): fixed configurations that won earlier searches,
//     those of them that apply to the data and the (grown) space. The others are drawn by
//     SampleParams(space, base, seed, index): configuration k of a search is a function of the
//     seed, k and the space alone, so two searches with the same seed on data of the same size
//     class try the same configurations in the same order; the budget and the estimate decide
//     how many.
//  4. A trial's time is estimated from its own configuration (EstimateTrial, tune_plan.h): its
//     steps at the seconds per step measured on an earlier trial of the same configuration,
//     else trial 0's scaled by StepWork. A trial starts only when, after it, the full-data
//     trial of the best partial configuration so far still fits (that time is reserved), and a
//     partial trial only when its own configuration's full-data trial would too (else it is
//     skipped). When the reserve does not fit, the brackets end and the final rung trains the
//     best partial configurations on all rows, best first, each that fits. Trials but trial 0
//     stop at the first epoch that does not improve (TuneOptions::early_stopping_patience).
//  5. The refinement (tune_refine.h) spends the last TuneOptions::refine_share of the budget
//     (and whatever the brackets left) on full-data trials of the one-step neighbours of the
//     best full-data configuration, moving to the first neighbour that beats it.
//  6. A trial whose estimated time does not fit the remaining budget is not started; a trial
//     running at the deadline (or when `interrupted` turns true) is stopped at its next step
//     and recorded as stopped. The overshoot is at most the time to stop one trial.
// The best result is the best full-data trial (AUC, or RMSE for ratings: lower is better);
// its configuration (TuneResult::best_config) trains to the same metric under `crank train`.
// Not thread-safe; runs on the calling thread.

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "crank/model/ranking_config.h"
#include "crank/train/hooks.h"
#include "crank/train/job_config.h"
#include "crank/train/tune_plan.h"

namespace crank {

// The values a trial chooses. hash_buckets / min_count are 0 where the data has no Criteo hash
// encoding / no vocabulary encoding to tune.
struct TrialParams {
  double embedding_learning_rate = 0.1;
  double dense_learning_rate = 0.002;
  double embedding_l2 = 0.0;
  int64_t l2_catch_up = 0;  // model.embedding_l2_catch_up; 0 where embedding_l2 is 0
  int64_t embedding_dim = 16;
  int64_t hash_buckets = 0;
  int64_t min_count = 0;
  Interaction interaction = Interaction::kDot;
  int cross_layers = 1;
  int64_t cross_projection_dim = 0;  // 0 = full rank
  int64_t epochs = 1;

  // One line: "elr=0.1 dlr=0.002 l2=1e-05 dim=16 buckets=100000 dot epochs=1" (with
  // " catch_up=100" after l2 when l2_catch_up > 0).
  std::string Describe() const;
  // The interaction as Describe() writes it: "dot", "cross2" (full rank), "cross3/r32".
  std::string InteractionText() const;
};

// The ranges searched. Learning rates and L2 are drawn log-uniformly and rounded to 3
// significant digits; the lists uniformly. A draw whose tables would exceed
// max_embedding_params (sum over fields of buckets x dim, for hashed fields) is drawn again.
struct TuneSpace {
  double embedding_lr_min = 0.01, embedding_lr_max = 0.4;
  double dense_lr_min = 3e-4, dense_lr_max = 1e-2;
  double l2_zero_probability = 0.25;  // else log-uniform in [l2_min, l2_max]
  double l2_min = 1e-7, l2_max = 1e-4;
  std::vector<int64_t> embedding_dims = {8, 16, 32};
  std::vector<int64_t> hash_buckets = {10'000, 30'000, 100'000, 300'000};
  std::vector<int64_t> min_counts = {1, 2, 5, 10};
  // On Criteo data hashed by its default encoding (no per-field encodings): the share of draws
  // that use a vocabulary of every field (min_count from min_counts) instead of hashing.
  double vocabulary_probability = 0.5;
  std::vector<int64_t> epochs = {1, 2, 3};
  // model.embedding_l2_catch_up of draws with L2 (docs/config.md, "L2 catch-up"); drawn last,
  // and only from a list of more than one value, so a one-value list leaves every other draw
  // as it was.
  std::vector<int64_t> l2_catch_ups = {0};
  double cross_probability = 0.5;
  std::vector<int> cross_layers = {1, 2, 3};
  std::vector<int64_t> cross_projection_dims = {0, 32};
  int64_t max_embedding_params = 100'000'000;
  // The space grows with the data (GrownSpace): where trial 0 trains on at least
  // large_data_rows rows per epoch, embedding_dims and min_counts take these values too. More
  // rows carry wider embeddings and make a higher min_count keep more ids; at 200k rows these
  // values did not help and at 1M rows they did (docs/tune.md, "The space grows with the data").
  // The L2 catch-up joins on large data too: its models overfit after one pass, and catch-up
  // let their later epochs gain (docs/tune.md, "L2 catch-up").
  // Empty: that list does not grow (`crank tune` empties one when its list is given).
  // large_data_rows 0: the space never grows.
  int64_t large_data_rows = 500'000;
  std::vector<int64_t> large_data_embedding_dims = {64};
  std::vector<int64_t> large_data_min_counts = {20};
  std::vector<int64_t> large_data_l2_catch_ups = {100};
};

// `space` as searched on data of `rows_per_epoch` training rows: with large_data_embedding_dims,
// large_data_min_counts and large_data_l2_catch_ups merged into embedding_dims, min_counts and
// l2_catch_ups (sorted, without repeats)
// where large_data_rows > 0 and rows_per_epoch >= large_data_rows; else `space` unchanged.
TuneSpace GrownSpace(const TuneSpace& space, int64_t rows_per_epoch);
// "embedding dims 8,16,32,64; min counts 1,2,5,10,20; l2 catch-ups 0,100": the lists
// GrownSpace may change.
std::string DescribeGrownLists(const TuneSpace& space);

// The values of `config` (trial 0). hash_buckets: the Criteo default encoding's, when hashed;
// min_count: that of the first vocabulary encoding, when there is one.
TrialParams ParamsOf(const JobConfig& config);
// Writes `p` into `config`: both optimizers' rates, model.embedding_l2 and its catch-up,
// embedding_dim (and the
// bottom stack's last width, as --embedding-dim), the Criteo hash buckets of every hashed field
// (when p.hash_buckets > 0), min_count of every vocabulary encoding (when p.min_count > 0), the
// interaction and train.epochs.
void ApplyParams(const TrialParams& p, JobConfig* config);
// Configuration `index` (>= 1) of the search with `seed` over `space`, for data shaped like
// `base` (which decides whether buckets / min_count are tuned). Pure function of its arguments.
TrialParams SampleParams(const TuneSpace& space, const JobConfig& base, uint64_t seed,
                         int64_t index);
// True when `data` is Criteo data whose every field is hashed by the default encoding (no
// per-field encodings): a trial may encode it with vocabularies of every field instead.
bool SwitchableToVocabulary(const DataConfig& data);
// The number of Criteo fields of `data` encoded by hashing (the tables that hash_buckets sizes).
int64_t HashedCriteoFields(const DataConfig& data);

struct TuneOptions {
  double budget_seconds = 600;
  uint64_t seed = 0;
  int eta = 3;
  int max_halvings = 3;           // s <= max_halvings: the smallest rung is eta^-s of the steps
  int64_t min_rung_rows = 10000;  // the smallest rung trains on at least this many rows
  int64_t max_configs_per_bracket = 81;
  bool portfolio = true;  // try the portfolio's configurations first (tune_portfolio.h)
  // The share of the budget kept for the refinement (tune_refine.h): the brackets and their
  // final rung plan with the rest, and the refinement runs from their end to the deadline.
  // 0 = no refinement.
  double refine_share = 0.25;
  // train.early_stopping_patience of every trial but trial 0 (and of best_config when the best
  // is not trial 0) where the base sets none: a trial of several epochs ends once an epoch's
  // evaluation does not improve on the best (whose model it keeps, train.keep_best).
  // 0 = the base's.
  int64_t early_stopping_patience = 1;
  TuneSpace space;
};

// What a trial runner reports.
struct TrialOutcome {
  MetricMap metrics;  // the evaluation of the trial's model (empty when stopped or failed)
  int64_t rows = 0;   // examples trained on (over all epochs)
  int64_t epochs_completed = 0;
  double train_seconds = 0.0;  // in training steps
  bool stopped = false;        // the stop hook ended it (budget or interrupt)
  std::string error;           // a failed trial (diverged, ...): the exception's text
};
// Trains `config` (train/eval files in config.data) calling `stop_hook` as a training hook.
using TrialRunner = std::function<TrialOutcome(const JobConfig& config, TrainHook* stop_hook)>;
// The runner of `crank tune`: a Trainer that writes no files (TrainRun::write_files false;
// `work_dir` names its unused model path and is cleaned after each trial); exceptions of the run
// become TrialOutcome::error, except ConfigError and IoError (a wrong configuration or missing
// file), which propagate.
TrialRunner MakeTrainerRunner(const std::string& work_dir);

// The id of the refinement's first new configuration: the draws' ids stay below it, so draw k
// is configuration k whatever the budget.
inline constexpr int64_t kFirstRefinedConfig = 1'000'001;

struct TrialRecord {
  int64_t id = 0;  // the trial's number, in the order run (0: the base configuration)
  // The configuration: 0 = base; 1..P the portfolio's P entries that apply; then
  // SampleParams(.., k) for the draws k > P; the refinement's neighbours (parent >= 0) that are
  // not an earlier configuration are kFirstRefinedConfig, kFirstRefinedConfig + 1, ...
  int64_t config = 0;
  bool portfolio = false;  // config is a portfolio entry
  // A refinement trial: the configuration whose one-step neighbour it is; -1 otherwise.
  int64_t parent = -1;
  int64_t bracket = 0;  // 0 for trial 0; a final-rung trial has its configuration's bracket
  int64_t rung = 0;     // a final-rung trial: one past its configuration's highest partial rung
  double fraction = 1.0;
  int64_t max_steps = 0;  // 0 = all
  TrialParams params;
  int64_t rows = 0;
  double metric = 0.0;         // NaN when stopped or failed
  double seconds = 0.0;        // wall time of the whole trial
  double train_seconds = 0.0;  // of it, in training steps
  int64_t epochs_completed = 0;
  std::string status;  // "ok", "stopped: budget", "stopped: interrupted", "failed: ..."
};

struct TuneResult {
  std::vector<TrialRecord> trials;
  std::string metric_name;  // "auc" or "rmse"
  bool higher_is_better = true;
  int64_t best_trial = -1;  // index into trials of the best full-data trial; -1 none
  // That trial's configuration (max_steps, eval_every as in base; the patience of
  // TuneOptions::early_stopping_patience unless it is trial 0).
  JobConfig best_config;
  bool interrupted = false;
  bool budget_exhausted = false;  // a trial was not started or stopped for the budget
  TrialCost cost;                 // measured on trial 0
  // The space searched: TuneOptions::space, grown for trial 0's rows per epoch (GrownSpace).
  TuneSpace space;
  bool space_grew = false;  // space differs from TuneOptions::space
};

struct TuneEnv {
  TrialRunner runner;
  std::function<double()> now_seconds;  // a monotonic clock
  std::function<bool()> interrupted = [] { return false; };
  std::function<void(const TrialRecord&)> on_trial;  // after each trial (may be empty)
};

// Runs the search from `base` (validated; data.train_files and data.eval_files set, BCE or MSE
// task). ConfigError when there are no train or eval files; DataError naming trial 0 when the
// base configuration's run fails (e.g. diverges); ConfigError and IoError of a runner propagate.
// A later trial that fails is listed as "failed: ..." and not ranked.
TuneResult Tune(const JobConfig& base, const TuneOptions& options, const TuneEnv& env);

// "600" (seconds), "90s", "10m", "1.5h" -> seconds; ConfigError "<flag>: ..." unless > 0.
double ParseDuration(const std::string& text, const std::string& flag);

}  // namespace crank

#endif  // CRANK_TRAIN_TUNE_H_
