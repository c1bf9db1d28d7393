#ifndef CRANK_TRAIN_TRAINER_H_
#define CRANK_TRAIN_TRAINER_H_

// Training behind `crank train`: the Trainer and its thin entry point Train().
//
// Trainer: builds the data mapping (or restores it with the model on --resume), the Ranking
// model and its CompositeOptimizer (embedding optimizer on the tables, dense optimizer on the
// rest), then Fit() runs epochs over the training files with evaluations (StepCadence
// eval_every and after each epoch), atomic checkpoints to `<model_out>.ckpt` (StepCadence
// checkpoint_every and after each epoch; with several ranks a sharded checkpoint, a manifest
// there and every rank's shard beside it: dist/sharded_checkpoint.h), optional EarlyStopping, hooks
// (train/hooks.h), and publishes the final model at `model_out`: with eval files and
// train.keep_best, the model of the best evaluation (its weights go to `<model_out>.best` when
// training moves past them; the file is removed when the run finishes), else the last state. A
// non-finite loss stops training with NumericError naming the step; the last good checkpoint on
// disk is kept. Resuming from a checkpoint ends with the same weights as an uninterrupted run with
// the same thread count; it seeks the input to the saved position where the reader can (no shuffle
// buffer), else re-reads the batches already trained. The evaluate/predict loops are in
// train/evaluate.h.

#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crank/data/batch_reader.h"
#include "crank/data/mapping.h"
#include "crank/dist/hybrid_parallel.h"
#include "crank/dist/placement.h"
#include "crank/dist/process_group.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "crank/optim/optimizer.h"
#include "crank/train/evaluate.h"
#include "crank/train/hooks.h"
#include "crank/train/job_config.h"
#include "crank/train/policies.h"

namespace crank {

struct TrainRun {
  std::vector<std::string> train_files;
  std::vector<std::string> eval_files;  // may be empty
  std::string model_out;
  bool resume = false;
  bool progress_bar = false;  // draw a bar (a terminal) instead of log lines
  // false: no checkpoint, no best-model file and no published model are written (model_out
  // and resume are not used); the result and the in-memory model are as with files. For runs
  // that only want the metrics, such as the trials of `crank tune`.
  bool write_files = true;
  // The processes training together (not owned; null or one rank: this process alone). With
  // several ranks the Trainer trains hybrid-parallel (docs/distributed.md): every rank runs the
  // same Trainer on the same files and configuration; every rank writes its shard of each
  // checkpoint, only rank 0 writes the other files.
  ProcessGroup* group = nullptr;
  // Where the tables go with several ranks (world_size is the group's): a per-rank byte budget
  // over which a table is split row-wise, and tables split row-wise regardless.
  PlacementOptions placement;
};

struct TrainResult {
  TrainingState state;
  int64_t train_examples = 0;  // examples trained on in this run
  double train_seconds = 0.0;  // wall time in training steps (no eval, no checkpoints)
  double train_examples_per_sec = 0.0;
  // With several ranks: the part of train_seconds this rank spent in collectives during the
  // training steps (exchanges, all-reduce, and waiting for the other ranks).
  double communication_seconds = 0.0;
  // With several ranks: the MPI calls this rank made in the training steps (the step's
  // exchanges and all-reduce, and the ranks' stop flag when a hook may stop; not the first
  // step's label mean nor a checkpoint): communication_calls / steps is the calls per step.
  int64_t communication_calls = 0;
  int64_t rows_skipped = 0;      // malformed training rows skipped
  bool stopped_early = false;    // early stopping ended the run (it is finished)
  bool stopped_by_hook = false;  // a hook asked to stop (the run is paused, not finished)
  // The evaluation of the published model: the best one with train.keep_best (and eval
  // files), else the last one; empty without eval files.
  MetricMap final_eval;
  int64_t kept_step = -1;           // with keep_best: the step of the published model's evaluation
  int64_t kept_epoch = 0;           // and its epoch (1-based); kept_step -1: the last state
  std::string history_json = "[]";  // [{"epoch":..,"step":..,"metrics":{...}}, ...]
  std::string checkpoint_path;
};

// The optimizer the job configures for `model`: a CompositeOptimizer with
// config.embedding_optimizer on EmbeddingTrainableVariables() and config.dense_optimizer on
// DenseTrainableVariables().
std::unique_ptr<Optimizer> MakeJobOptimizer(Ranking& model, const JobConfig& config);

// Sets the compute thread count: config threads, or all cores when 0. Returns it.
int ConfigureThreads(int threads);
// Sets the GEMM precision ("fp32" or "bf16"; ConfigError otherwise).
void ConfigurePrecision(const std::string& precision);
// A training job's precision: resolves config->train.precision by ChoosePrecision
// (train/precision_choice.h) for this CPU and config->train.batch_size, records the choice in
// *config (so the model file stores fp32 or bf16, never auto), logs it and sets it.
void ConfigureJobPrecision(JobConfig* config);
// The precision of a loaded model's eval/predict/report: `flag` when it names fp32 or bf16,
// else (empty or "auto") the one stored with the model (its train.precision; a stored "auto"
// is resolved as ConfigureJobPrecision would). Sets it and returns it; ConfigError on a bad
// flag.
GemmPrecision ConfigureModelPrecision(const std::string& flag, const JobConfig& stored);

// One training run. Usage: construct, AddHook, Fit once. Not thread-safe; Fit runs on the
// calling thread (the streaming reader parses on its own thread).
class Trainer {
 public:
  // Prepares the run: checks the arguments (ConfigError), restores the checkpoint on
  // run.resume (IoError when absent or unreadable, ConfigError when written with another
  // model, optimizer or data configuration), builds or restores the mapping, opens the
  // readers (a missing file fails here, before the model is initialised), builds the model
  // and optimizer and replays the resumed run's evaluations into its early-stopping state.
  Trainer(const JobConfig& config, const TrainRun& run);
  ~Trainer();
  Trainer(const Trainer&) = delete;
  Trainer& operator=(const Trainer&) = delete;

  // `hook` is not owned and must outlive Fit. Hooks are called in the order added.
  void AddHook(TrainHook* hook);

  // Trains until the last epoch, early stopping, max_steps or a hook's stop; writes the
  // checkpoint and publishes the model. Call once. Throws NumericError (diverged), DataError
  // (no training examples, unlabelled data), IoError, and whatever a hook throws.
  TrainResult Fit();

  Ranking& model() { return *model_; }
  const TrainingState& state() const { return state_; }
  const DataMapping& mapping() const { return *mapping_; }

 private:
  void RunEpoch(int64_t total_bytes);
  // Continues the epoch in progress after its batch_in_epoch batches: seeks when it can.
  void ResumeInput();
  // The next (global) batch into batch_: with by_bytes_ this rank's part of it, and a
  // collective (the epoch ends on every rank when no rank has rows left). Sets global_batch_.
  bool NextBatch();
  // One optimizer step on batch_; NumericError when the loss is not finite.
  StepResult Step();
  // Evaluates (when there are eval files), records history, applies early stopping and
  // calls the hooks. `epoch` is 1-based.
  void EvaluateNow(const char* when, int64_t epoch);
  void Save(const std::string& path);
  // Writes the current weights to best_path_ (before a step moves them past the best).
  void SaveBest();
  // Publishes the model (best or last) at run_.model_out; sets result_'s kept fields.
  void Publish();
  // Records evaluation `m` at the current step as the best one.
  void MarkBest(const MetricMap& m, int64_t epoch, int64_t step);
  void EndEpochForHooks();
  // Hybrid-parallel runs: the evaluation merged over the ranks.
  MetricMap EvaluateDistributed();
  // Writes the model and optimizer state with `state` to `path`; in a hybrid-parallel run (every
  // rank calls it) the checkpoint path gets a sharded checkpoint, any other path the model
  // gathered to rank 0, which writes the single file.
  void WriteModel(const std::string& path, const TrainingState& state);
  bool is_root() const { return run_.group == nullptr || run_.group->rank() == 0; }

  const JobConfig config_;
  const TrainRun run_;
  TrainResult result_;
  std::shared_ptr<const DataMapping> mapping_;
  std::unique_ptr<BatchReader> reader_;
  std::unique_ptr<BatchReader> eval_reader_;
  std::unique_ptr<Ranking> model_;
  std::unique_ptr<HybridParallel> hybrid_;  // several ranks: the model's distributed step
  TrainingState state_;
  bool by_bytes_ = false;    // train.input_sharding bytes on several ranks
  bool local_done_ = false;  // by_bytes_: this rank's range is exhausted for this epoch
  // Several ranks, the default feeding: the reader gives this rank its slice of each global
  // batch (ReaderOptions::batch_slices).
  bool sliced_ = false;
  bool hooks_may_stop_ = true;  // some rank has a hook that may stop at a step's end
  int64_t global_batch_ = 0;    // examples of the current global batch
  std::string config_yaml_;
  std::string mapping_text_;
  nlohmann::json history_;  // [{"epoch":..,"step":..,"metrics":{...}}, ...]
  EarlyStopping early_stopping_;
  StepCadence eval_cadence_;
  StepCadence checkpoint_cadence_;
  std::vector<TrainHook*> hooks_;
  Batch batch_;
  // Keeping the best model (train.keep_best with eval files).
  bool keep_best_ = false;
  std::string best_path_;
  int64_t best_step_ = -1;  // step of the best evaluation so far, -1 none
  int64_t best_epoch_ = 0;
  MetricMap best_metrics_;
  bool best_unsaved_ = false;  // the current weights are the best and best_path_ lacks them
  bool stop_ = false;
  bool fitted_ = false;
  double step_seconds_ = 0.0;
};

// Trains with a ProgressHook (run.progress_bar: a bar, else log lines) and, with
// train.tensorboard, a TensorBoardHook (train/tensorboard_hook.h; opened first, so a directory
// that cannot be written fails with IoError before any work): Trainer(config, run).Fit().
TrainResult Train(const JobConfig& config, const TrainRun& run);

}  // namespace crank

#endif  // CRANK_TRAIN_TRAINER_H_
