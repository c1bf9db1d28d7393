#ifndef CRANK_IO_LOAD_MODEL_H_
#define CRANK_IO_LOAD_MODEL_H_

// Loading a trained model without the training loop (a server, `crank eval|predict|info`).
//
// A model file (or checkpoint) written by training holds the resolved configuration as YAML,
// the data mapping and the variables. LoadModel reads the configuration's `data` and `model`
// sections with their own readers (DataConfig, ModelConfig), rebuilds the Ranking for the
// stored mapping, restores its variables and prepares the model for inference
// (Ranking::PrepareInference: the bf16 weight copies are made once here, not on every forward;
// training the loaded model drops them). The rest of the configuration (optimizer, train:
// e.g. train.precision) is left to the caller, as the stored YAML text in
// LoadedModel::config_yaml. IoError for a file that cannot be read or is not a model;
// ConfigError (naming "<path> (stored configuration)") for a stored configuration that does
// not read. The result is owned by the caller; LoadModel is thread-safe (no shared state).

#include <memory>
#include <string>

#include "crank/data/config.h"
#include "crank/data/data_spec.h"
#include "crank/data/mapping.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "crank/model/ranking_config.h"

namespace crank {

struct LoadedModel {
  std::string config_yaml;   // the resolved configuration stored with the model
  DataConfig data;           // its data section
  ModelConfig model_config;  // its model section
  std::shared_ptr<const DataMapping> mapping;
  std::unique_ptr<Ranking> model;
  TrainingState state;
};
LoadedModel LoadModel(const std::string& path);

// The RankingConfig of `model` for data described by `spec`: one table per sparse feature
// (its vocabulary size, model.embedding_dim columns), the loss of the spec's label (MSE for
// real labels, BCE otherwise) and `seed`. Validated (ConfigError).
RankingConfig RankingConfigFor(const ModelConfig& model, const DataSpec& spec, uint64_t seed);

}  // namespace crank

#endif  // CRANK_IO_LOAD_MODEL_H_
