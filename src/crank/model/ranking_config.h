#ifndef CRANK_MODEL_RANKING_CONFIG_H_
#define CRANK_MODEL_RANKING_CONFIG_H_

// Plain configuration of the default Ranking model (tfrs.experimental.models.Ranking with its
// default blocks). The YAML file and the CLI flags fill this struct; Validate() rejects
// inconsistent values with a ConfigError naming the field.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crank/kernels/activation.h"
#include "crank/layers/embedding_collection.h"
#include "crank/task/ranking_task.h"

namespace crank {

struct RankingConfig {
  // D: the number of dense features per example.
  int64_t dense_features = 13;
  // Embedding tables and the sparse features that look them up (several features may share a
  // table). The interaction sees features in sorted feature-name order.
  std::vector<TableConfig> tables;
  std::vector<FeatureConfig> features;

  // Bottom stack: MLP with ReLU after every layer, the last included (TFRS default).
  std::vector<int64_t> bottom = {256, 64, 16};
  // Top stack: MLP with ReLU between layers; the last layer's activation is output_activation.
  std::vector<int64_t> top = {512, 256, 1};

  // "dot" (DLRM), "cross" (DCN-v2 over the concatenation) or "concat".
  std::string interaction = "dot";
  bool dot_self_interaction = false;
  bool dot_skip_gather = false;
  int cross_layers = 1;
  std::optional<int64_t> cross_projection_dim;
  float cross_diag_scale = 0.0f;  // finite, >= 0
  bool cross_use_bias = true;

  // Bottom output concatenated in front of the interaction output (TFRS concat_dense).
  bool concat_dense = true;

  LossKind loss = LossKind::kBinaryCrossEntropy;
  // Activation of the model output. "auto": sigmoid for binary cross-entropy (the TFRS top
  // stack's final sigmoid; the loss is then computed stably from the logits), linear for mean
  // squared error (ratings are not in [0, 1]).
  std::string output_activation = "auto";

  // L2 regularization coefficients (Keras L2: l2 * sum(w^2)) per block. Embedding rows are
  // regularized when they are touched by a batch. Finite, >= 0.
  float embedding_l2 = 0.0f;
  float dense_l2 = 0.0f;

  // Seed for initialization.
  uint64_t seed = 0;

  // Throws ConfigError with the offending field.
  void Validate() const;
  // The resolved output activation (sigmoid or linear).
  Activation ResolvedOutputActivation() const;
};

}  // namespace crank

#endif  // CRANK_MODEL_RANKING_CONFIG_H_
