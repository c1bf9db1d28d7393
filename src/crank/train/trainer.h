#ifndef CRANK_TRAIN_TRAINER_H_
#define CRANK_TRAIN_TRAINER_H_

// The training, evaluation and prediction loops behind `crank train|eval|predict`.
//
// Train: builds the data mapping (or restores it with the model on --resume), the Ranking model
// and its CompositeOptimizer (embedding optimizer on the tables, dense optimizer on the rest),
// then runs epochs over the training files with progress output, periodic and per-epoch
// evaluation, atomic checkpoints to `<model_out>.ckpt`, optional early stopping, and writes
// the final model to `model_out`. A non-finite loss stops training with NumericError naming
// the step; the last good checkpoint on disk is kept. Resuming from a checkpoint ends with the
// same weights as an uninterrupted run with the same thread count.

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crank/data/batch_reader.h"
#include "crank/data/mapping.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "crank/optim/optimizer.h"
#include "crank/train/job_config.h"

namespace crank {

using MetricMap = std::map<std::string, double>;

struct TrainRun {
  std::vector<std::string> train_files;
  std::vector<std::string> eval_files;  // may be empty
  std::string model_out;
  bool resume = false;
  bool progress_bar = false;  // draw a bar (a terminal) instead of log lines
};

struct TrainResult {
  TrainingState state;
  int64_t train_examples = 0;  // examples trained on in this run
  double train_seconds = 0.0;  // wall time in training steps (no eval, no checkpoints)
  double train_examples_per_sec = 0.0;
  int64_t rows_skipped = 0;  // malformed training rows skipped
  bool stopped_early = false;
  MetricMap final_eval;             // last evaluation (empty without eval files)
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

TrainResult Train(const JobConfig& config, const TrainRun& run);

// Runs the model over every batch of `reader` (labelled) and returns the task metrics
// ("examples", "auc", "logloss", "accuracy", "ne", "calibration", "loss", ...; "rmse", "mae"
// for regression). Rewinds the reader afterwards. DataError if the data has no labels.
MetricMap Evaluate(Ranking& model, BatchReader& reader);

// Writes one prediction per example, in input order, one per line (shortest text that reads
// back as the same float), to out_path atomically: on error nothing is left at out_path and an
// existing file there is untouched. Returns the number of predictions.
int64_t PredictToFile(Ranking& model, BatchReader& reader, const std::string& out_path);

// The metrics as a JSON object (NaN as null), plus `extra` members.
// indent < 0: one line.
std::string MetricsJson(const MetricMap& metrics, const std::string& extra_members = "",
                        int indent = 2);

}  // namespace crank

#endif  // CRANK_TRAIN_TRAINER_H_
