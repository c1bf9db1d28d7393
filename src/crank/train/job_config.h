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
#include "crank/model/ranking_config.h"
#include "crank/optim/factory.h"

namespace crank {

// The shape of the default Ranking model; tables are created from the data: one table per
// sparse feature with the feature's vocabulary size and embedding_dim columns.
struct ModelOptions {
  int64_t embedding_dim = 16;
  std::string pooling = "mean";  // sum | mean | sqrtn (multi-hot features)
  std::vector<int64_t> bottom = {256, 64, 16};
  std::vector<int64_t> top = {512, 256, 1};
  std::string interaction = "dot";  // dot | cross | concat
  bool dot_self_interaction = false;
  bool dot_skip_gather = false;
  int cross_layers = 1;
  int64_t cross_projection_dim = 0;  // 0 = full rank
  float cross_diag_scale = 0.0f;
  bool cross_use_bias = true;
  bool concat_dense = true;
  std::string output_activation = "auto";  // auto | sigmoid | linear
  float embedding_l2 = 1e-5f;  // a light pull on touched rows: +0.001-0.002 AUC (docs/defaults.md)
  float dense_l2 = 0.0f;
  // "label_mean": before the first step, the output unit's bias is set so the model predicts
  // the first training batch's mean label (its log-odds for a sigmoid output) -- ratings then
  // start near their mean instead of 0. "zero": the Keras/TFRS zero initialisation.
  std::string output_bias_init = "label_mean";
};

struct TrainOptions {
  int64_t epochs = 1;
  int64_t batch_size = 512;
  int64_t eval_batch_size = 4096;
  int threads = 0;  // 0 = all cores
  uint64_t seed = 0;
  int64_t shuffle_buffer = 0;           // rows; 0 = file order
  int64_t checkpoint_every = 0;         // steps; 0 = at the end of each epoch only
  int64_t eval_every = 0;               // steps; 0 = after each epoch only
  int64_t early_stopping_patience = 0;  // evaluations without improvement; 0 = off
  int64_t max_steps = 0;                // stop after this many steps in total; 0 = no limit
  bool in_memory = false;               // load the training files into memory first
  // GEMM input precision: fp32, or bf16 (inputs rounded to bfloat16, fp32 accumulation and fp32
  // master weights) on CPUs with AVX512-BF16/AMX; elsewhere bf16 runs in fp32.
  std::string precision = "fp32";
  double log_every_seconds = 10;  // progress lines when stderr is not a terminal
};

struct JobConfig {
  DataConfig data;
  ModelOptions model;
  OptimizerConfig embedding_optimizer;  // row-sparse updates of the embedding tables
  OptimizerConfig dense_optimizer;      // every other variable
  TrainOptions train;

  JobConfig();  // the defaults (see docs/defaults.md for how they were chosen)

  // Reads a YAML file with optional sections data, model, optimizer {embedding, dense}, train.
  // Unknown keys, wrong types and invalid values throw ConfigError "file:line: key: ..." (for
  // a value that fails Validate(), the line of its key; of its section when the key was left
  // at its default); a missing or unreadable file throws IoError. The result is validated.
  static JobConfig FromYamlFile(const std::string& path);
  static JobConfig FromYamlString(const std::string& text, const std::string& name_for_errors);
  std::string ToYaml() const;
  // Throws ConfigError "key: what" naming the field (e.g. "train.epochs: expected at least 1,
  // got 0"); the configuration keeps no file positions, so a value changed after loading (a
  // command-line flag) is named by its key only.
  void Validate() const;

  // The model configuration for data described by `spec`.
  RankingConfig MakeRankingConfig(const DataSpec& spec) const;
};

}  // namespace crank

#endif  // CRANK_TRAIN_JOB_CONFIG_H_
