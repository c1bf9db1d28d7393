#ifndef CRANK_TRAIN_JOB_CONFIG_H_
#define CRANK_TRAIN_JOB_CONFIG_H_

// The configuration of a crank job: the YAML file (sections data, model, optimizer, train) and
// the command-line flags fill this one struct (flags win). The resolved configuration is printed
// at start and stored in every checkpoint, so eval/predict/resume rebuild the same model.
// docs/config.md is the reference for every key.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crank/data/config.h"
#include "crank/data/data_spec.h"
#include "crank/kernels/gemm.h"
#include "crank/model/ranking_config.h"
#include "crank/optim/factory.h"
#include "crank/train/config_overrides.h"
#include "crank/train/precision_choice.h"

namespace crank {

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 512;
  // Whether batch_size was given (train.batch_size in YAML, --batch-size, a library option).
  // While false, ResolveDefaultBatchSize may choose a smaller batch for small training data.
  // Not written to YAML: a configuration written out gives its batch size.
  bool batch_size_given = false;
  int64_t eval_batch_size = 4096;
  int threads = 0;  // 0 = all cores
  uint64_t seed = 0;
  int64_t shuffle_buffer = 0;           // rows; 0 = file order
  int64_t checkpoint_every = 0;         // steps; 0 = at the end of each epoch only
  int64_t eval_every = 0;               // steps; 0 = after each epoch only
  int64_t early_stopping_patience = 0;  // evaluations without improvement; 0 = off
  int64_t max_steps = 0;                // stop after this many steps in total; 0 = no limit
  // With evaluation files: publish the model of the best evaluation (AUC, or RMSE for ratings)
  // rather than the last one, as Keras' restore_best_weights; its metrics are the final ones.
  bool keep_best = true;
  bool in_memory = false;  // load the training files into memory first
  // GEMM input precision: auto (nullopt; the rule of train/precision_choice.h picks fp32 or bf16
  // from the CPU and batch_size before training, and the configuration stored with the model
  // records the choice), fp32, or bf16 (inputs rounded to bfloat16, fp32 accumulation and fp32
  // master weights) on CPUs with AVX512-BF16/AMX; elsewhere bf16 runs in fp32. Named as
  // PrecisionSettingName writes it.
  PrecisionSetting precision;
  double log_every_seconds = 10;  // progress lines when stderr is not a terminal
  // TensorBoard scalars (train/tensorboard_hook.h): an event file in this directory; empty: none.
  std::string tensorboard;
  int64_t tensorboard_every = 100;  // steps between train/ scalars (and at each epoch's end)
  // Several ranks: the longest one rank may wait inside one collective before the job is ended
  // as hung (dist/watchdog.h, docs/distributed.md "Failures"); 0 = no watchdog.
  double collective_timeout = 300;
  // Several ranks: how the training input is divided (docs/distributed.md "Input sharding").
  // "rows": every rank reads every row and trains on its slice of each global batch, exactly
  // one process's batches; "bytes": each rank reads only its own byte range of the files, with
  // a local batch of its share of batch_size (the batches differ from one process's).
  std::string input_sharding = "rows";
};

// The default batch size for small training data (docs/defaults.md, "Small data"): below
// kSmallDataRows training rows (40 steps of the default batch of 512 per epoch) the default
// is kSmallDataBatchSize.
inline constexpr int64_t kSmallDataRows = 20'480;
inline constexpr int64_t kSmallDataBatchSize = 256;

// Chooses the batch size of a configuration that does not give one (train.batch_size_given
// false; otherwise nothing changes and "" is returned): kSmallDataBatchSize when the training
// files are regular files holding fewer than kSmallDataRows lines together (counted up to that
// many, CountLinesUpTo), else the default it has. Sets batch_size_given and returns one log line
// when it changed the batch size, else "".
std::string ResolveDefaultBatchSize(TrainOptions* train, const std::vector<std::string>& train_files);

// "skip" or "fail" as given to --bad-rows; ConfigError "--bad-rows: ..." otherwise.
ErrorPolicy ParseBadRows(const std::string& text);

struct JobConfig {
  DataConfig data;
  ModelConfig model;
  OptimizerConfig embedding_optimizer;  // row-sparse updates of the embedding tables
  OptimizerConfig dense_optimizer;      // every other variable
  TrainOptions train;

  JobConfig();  // the defaults (see docs/defaults.md for how they were chosen)

  // Reads a YAML file with optional sections data, model, optimizer {embedding, dense}, train.
  // Unknown keys, wrong types and invalid values throw ConfigError with file, line and key
  // (for a value that fails Validate(), the line of its key, recorded while reading; of its
  // section when the key was left at its default); a missing or unreadable file throws
  // IoError. The result is validated.
  static JobConfig FromYamlFile(const std::string& path);
  static JobConfig FromYamlString(const std::string& text, const std::string& name_for_errors);
  std::string ToYaml() const;
  // Throws ConfigError with the field as key (what(): "train.epochs: expected at least 1, got
  // 0"); the configuration keeps no file positions, so a value changed after loading (a
  // command-line flag) is named by its key only.
  void Validate() const;

  // Replaces the values `overrides` gives, with the policy described in config_overrides.h.
  // Does not Validate().
  void ApplyOverrides(const ConfigOverrides& overrides);

  // The model configuration for data described by `spec` (RankingConfigFor, io/load_model.h).
  RankingConfig MakeRankingConfig(const DataSpec& spec) const;
};

}  // namespace crank

#endif  // CRANK_TRAIN_JOB_CONFIG_H_
