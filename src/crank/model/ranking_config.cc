#include "crank/model/ranking_config.h"

#include <fmt/ranges.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/yaml/emitter.h"

namespace crank {
namespace {

// Each rule once; `prefix` is the key path of the struct ("model." or "").

void CheckUnits(const std::vector<int64_t>& units, const std::string& key) {
  if (units.empty()) throw ConfigError(key, "expected at least one layer size, got none");
  for (int64_t u : units) {
    if (u <= 0) throw ConfigError(key, fmt::format("layer sizes must be positive, got {}", u));
  }
}

void CheckFiniteNonNegative(float v, const std::string& key) {
  if (!(std::isfinite(v) && v >= 0.0f)) {
    throw ConfigError(key, fmt::format("expected a finite number >= 0, got {}", v));
  }
}

void CheckCatchUp(int64_t v, const std::string& key) {
  if (v < 0 || v > kMaxEmbeddingL2CatchUp) {
    throw ConfigError(key, fmt::format("expected a count of steps in [0, {}], got {}",
                                       kMaxEmbeddingL2CatchUp, v));
  }
}

void CheckCrossLayers(const ModelShape& s, const std::string& key) {
  if (s.interaction == Interaction::kCross && s.cross_layers < 1) {
    throw ConfigError(key, fmt::format("expected at least 1, got {}", s.cross_layers));
  }
}

// The stacks: positive sizes, one output unit; the top stack non-empty, the bottom stack
// non-empty unless `allow_no_bottom` (`bottom: []`, no bottom stack, for data without dense
// features).
void CheckStacks(const ModelShape& s, const std::string& prefix, bool allow_no_bottom) {
  if (!(allow_no_bottom && s.bottom.empty())) CheckUnits(s.bottom, prefix + "bottom");
  CheckUnits(s.top, prefix + "top");
  if (s.top.back() != 1) {
    throw ConfigError(prefix + "top", fmt::format("the last layer must have 1 unit (one "
                                                  "prediction), got {}",
                                                  s.top.back()));
  }
}

// The dot interaction takes the bottom output as one more feature: its width must be the
// embedding dimension. Returns whether `dim` fits.
bool DotWidthFits(const ModelShape& s, int64_t dim) {
  return s.interaction != Interaction::kDot || s.bottom.empty() || s.bottom.back() == dim;
}

}  // namespace

ModelConfig::ModelConfig() {
  // A light pull on touched rows: +0.001-0.002 AUC (docs/defaults.md).
  embedding_l2 = 1e-5f;
}

ModelConfig ModelConfig::FromYaml(const YamlReader& m) {
  ModelConfig c;
  m.ExpectMapOrNull();
  m.CheckKeys({"embedding_dim", "embedding_precision", "pooling", "bottom", "top", "interaction",
               "dot", "cross", "concat_dense", "output_activation", "embedding_l2",
               "embedding_l2_catch_up", "dense_l2", "output_bias_init"});
  m.Read("embedding_dim", &c.embedding_dim);
  std::string pooling(PoolingName(c.pooling));
  m.Read("pooling", &pooling);
  try {
    c.pooling = ParsePooling(pooling);
  } catch (const InvalidArgument&) {
    m.Child("pooling").FailAtKey(fmt::format("expected sum, mean or sqrtn, got '{}'", pooling));
  }
  m.Read("embedding_precision", kEmbeddingPrecisionNames, &c.embedding_precision);
  m.Read("bottom", &c.bottom);
  m.Read("top", &c.top);
  m.Read("interaction", kInteractionNames, &c.interaction);
  m.Read("concat_dense", &c.concat_dense);
  m.Read("output_activation", kOutputActivationNames, &c.output_activation);
  m.Read("embedding_l2", &c.embedding_l2);
  m.Read("embedding_l2_catch_up", &c.embedding_l2_catch_up);
  m.Read("dense_l2", &c.dense_l2);
  m.Read("output_bias_init", kOutputBiasInitNames, &c.output_bias_init);
  const YamlReader dot = m.Child("dot");
  dot.ExpectMapOrNull();
  dot.CheckKeys({"self_interaction", "skip_gather"});
  dot.Read("self_interaction", &c.dot_self_interaction);
  dot.Read("skip_gather", &c.dot_skip_gather);
  const YamlReader cross = m.Child("cross");
  cross.ExpectMapOrNull();
  cross.CheckKeys({"layers", "projection_dim", "diag_scale", "use_bias"});
  cross.Read("layers", &c.cross_layers);
  cross.Read("projection_dim", &c.cross_projection_dim);
  cross.Read("diag_scale", &c.cross_diag_scale);
  cross.Read("use_bias", &c.cross_use_bias);
  return c;
}

void ModelConfig::ToYaml(YAML::Emitter& e) const {
  e << YAML::BeginMap;
  e << YAML::Key << "embedding_dim" << YAML::Value << embedding_dim;
  e << YAML::Key << "embedding_precision" << YAML::Value
    << NameOf(kEmbeddingPrecisionNames, embedding_precision);
  e << YAML::Key << "pooling" << YAML::Value << std::string(PoolingName(pooling));
  e << YAML::Key << "bottom" << YAML::Value << YAML::Flow << bottom;
  e << YAML::Key << "top" << YAML::Value << YAML::Flow << top;
  e << YAML::Key << "interaction" << YAML::Value << NameOf(kInteractionNames, interaction);
  e << YAML::Key << "dot" << YAML::Value << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "self_interaction" << YAML::Value << dot_self_interaction;
  e << YAML::Key << "skip_gather" << YAML::Value << dot_skip_gather << YAML::EndMap;
  e << YAML::Key << "cross" << YAML::Value << YAML::Flow << YAML::BeginMap;
  e << YAML::Key << "layers" << YAML::Value << cross_layers;
  e << YAML::Key << "projection_dim" << YAML::Value << cross_projection_dim;
  e << YAML::Key << "diag_scale" << YAML::Value << YamlNumber(cross_diag_scale);
  e << YAML::Key << "use_bias" << YAML::Value << cross_use_bias << YAML::EndMap;
  e << YAML::Key << "concat_dense" << YAML::Value << concat_dense;
  e << YAML::Key << "output_activation" << YAML::Value
    << NameOf(kOutputActivationNames, output_activation);
  e << YAML::Key << "embedding_l2" << YAML::Value << YamlNumber(embedding_l2);
  e << YAML::Key << "embedding_l2_catch_up" << YAML::Value << embedding_l2_catch_up;
  e << YAML::Key << "dense_l2" << YAML::Value << YamlNumber(dense_l2);
  e << YAML::Key << "output_bias_init" << YAML::Value
    << NameOf(kOutputBiasInitNames, output_bias_init);
  e << YAML::EndMap;
}

void ModelConfig::Validate(bool data_has_dense, bool data_has_sparse) const {
  if (embedding_dim <= 0) {
    throw ConfigError("model.embedding_dim",
                      fmt::format("expected a positive size, got {}", embedding_dim));
  }
  if (cross_projection_dim < 0) {
    throw ConfigError("model.cross.projection_dim", "expected 0 (full rank) or a positive size");
  }
  CheckCrossLayers(*this, "model.cross.layers");
  CheckFiniteNonNegative(cross_diag_scale, "model.cross.diag_scale");
  CheckFiniteNonNegative(embedding_l2, "model.embedding_l2");
  CheckCatchUp(embedding_l2_catch_up, "model.embedding_l2_catch_up");
  CheckFiniteNonNegative(dense_l2, "model.dense_l2");
  // Without dense features the bottom stack is not built, without sparse ones the interaction:
  // then the bottom stack's width is not the dot interaction's business.
  if (data_has_dense && data_has_sparse && !DotWidthFits(*this, embedding_dim)) {
    throw ConfigError("model.bottom",
                      fmt::format("dot interaction needs the bottom stack's last layer ({}) to "
                                  "equal model.embedding_dim ({})",
                                  bottom.back(), embedding_dim));
  }
  // `bottom: []` is checked against the data's dense fields by MakeRankingConfig.
  CheckStacks(*this, "model.", /*allow_no_bottom=*/true);
}

void RankingConfig::Validate() const {
  if (dense_features < 0) {
    throw ConfigError("dense_features",
                      fmt::format("expected a count >= 0, got {}", dense_features));
  }
  if (features.empty() && dense_features == 0) {
    throw ConfigError("features",
                      "expected at least one sparse feature when there are no dense features "
                      "(dense_features: 0), got none");
  }
  if (tables.empty() != features.empty()) {
    throw ConfigError(features.empty() ? "tables" : "features",
                      fmt::format("expected tables and sparse features together, got {} tables "
                                  "and {} features",
                                  tables.size(), features.size()));
  }
  if (dense_features == 0 && !bottom.empty()) {
    throw ConfigError("bottom", fmt::format("the model has no dense features, so no bottom stack: "
                                            "expected [], got [{}]",
                                            fmt::join(bottom, ", ")));
  }
  if (dense_features > 0 && bottom.empty()) {
    throw ConfigError("bottom", fmt::format("the model has {} dense features: expected at least "
                                            "one layer size, got none",
                                            dense_features));
  }
  CheckStacks(*this, "", /*allow_no_bottom=*/dense_features == 0);
  CheckCrossLayers(*this, "cross_layers");
  if (cross_projection_dim && *cross_projection_dim <= 0) {
    throw ConfigError("cross_projection_dim",
                      fmt::format("expected a positive size, got {}", *cross_projection_dim));
  }
  CheckFiniteNonNegative(embedding_l2, "embedding_l2");
  CheckCatchUp(embedding_l2_catch_up, "embedding_l2_catch_up");
  CheckFiniteNonNegative(dense_l2, "dense_l2");
  CheckFiniteNonNegative(cross_diag_scale, "cross_diag_scale");
  for (const TableConfig& t : tables) {
    if (!DotWidthFits(*this, t.dim)) {
      throw ConfigError(fmt::format(
          "dot interaction needs the bottom stack output width ({}) to equal the embedding "
          "dimension, but table '{}' has dimension {}",
          bottom.back(), t.name, t.dim));
    }
  }
}

Activation RankingConfig::ResolvedOutputActivation() const {
  switch (output_activation) {
    case OutputActivation::kSigmoid:
      return Activation::kSigmoid;
    case OutputActivation::kLinear:
      return Activation::kLinear;
    case OutputActivation::kAuto:
      break;
  }
  return loss == LossKind::kBinaryCrossEntropy ? Activation::kSigmoid : Activation::kLinear;
}

RankingConfig MakeRankingConfig(const ModelConfig& model, int64_t dense_features,
                                const std::vector<SparseInput>& sparse, LossKind loss,
                                uint64_t seed) {
  RankingConfig r;
  static_cast<ModelShape&>(r) = model;
  r.dense_features = dense_features;
  if (dense_features == 0 && !r.bottom.empty()) {
    LogWarning(
        "model.bottom [{}] ignored: the data has no dense features, so the model has no "
        "bottom stack (set `bottom: []` to say so)",
        fmt::join(r.bottom, ", "));
    r.bottom.clear();
  }
  if (dense_features > 0 && r.bottom.empty()) {
    throw ConfigError("model.bottom",
                      fmt::format("expected at least one layer size for the data's {} dense "
                                  "features, got [] (no bottom stack is only for data without "
                                  "dense features)",
                                  dense_features));
  }
  for (const SparseInput& f : sparse) {
    r.tables.push_back({.name = f.name,
                        .vocabulary_size = f.vocabulary_size,
                        .dim = model.embedding_dim,
                        .precision = model.embedding_precision});
    r.features.push_back({.name = f.name, .table = f.name, .pooling = model.pooling});
  }
  if (model.cross_projection_dim > 0) r.cross_projection_dim = model.cross_projection_dim;
  r.loss = loss;
  r.seed = seed;
  r.Validate();
  return r;
}

}  // namespace crank
