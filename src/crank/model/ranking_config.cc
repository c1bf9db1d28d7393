#include "crank/model/ranking_config.h"

#include <cmath>
#include <set>

#include "crank/base/error.h"

namespace crank {
namespace {

void ValidateUnits(const std::vector<int64_t>& units, const char* field) {
  if (units.empty())
    throw ConfigError(fmt::format("{}: expected at least one layer size, got none", field));
  for (int64_t u : units) {
    if (u <= 0)
      throw ConfigError(fmt::format("{}: layer sizes must be positive, got {}", field, u));
  }
}

}  // namespace

void RankingConfig::Validate() const {
  if (dense_features <= 0) {
    throw ConfigError(
        fmt::format("dense_features: expected a positive count, got {}", dense_features));
  }
  if (tables.empty()) throw ConfigError("tables: expected at least one embedding table, got none");
  if (features.empty())
    throw ConfigError("features: expected at least one sparse feature, got none");
  ValidateUnits(bottom, "bottom");
  ValidateUnits(top, "top");
  if (top.back() != 1) {
    throw ConfigError(
        fmt::format("top: the last layer must have 1 unit (one prediction), got {}", top.back()));
  }
  if (interaction != "dot" && interaction != "cross" && interaction != "concat") {
    throw ConfigError(
        fmt::format("interaction: expected dot, cross or concat, got '{}'", interaction));
  }
  if (interaction == "cross" && cross_layers < 1) {
    throw ConfigError(fmt::format("cross_layers: expected at least 1, got {}", cross_layers));
  }
  if (cross_projection_dim && *cross_projection_dim <= 0) {
    throw ConfigError(fmt::format("cross_projection_dim: expected a positive size, got {}",
                                  *cross_projection_dim));
  }
  if (output_activation != "auto" && output_activation != "sigmoid" &&
      output_activation != "linear") {
    throw ConfigError(fmt::format("output_activation: expected auto, sigmoid or linear, got '{}'",
                                  output_activation));
  }
  const auto finite_non_negative = [](float v, const char* field) {
    if (!(std::isfinite(v) && v >= 0.0f)) {
      throw ConfigError(fmt::format("{}: expected a finite number >= 0, got {}", field, v));
    }
  };
  finite_non_negative(embedding_l2, "embedding_l2");
  finite_non_negative(dense_l2, "dense_l2");
  finite_non_negative(cross_diag_scale, "cross_diag_scale");
  if (interaction == "dot") {
    for (const TableConfig& t : tables) {
      if (t.dim != bottom.back()) {
        throw ConfigError(fmt::format(
            "dot interaction needs the bottom stack output width ({}) to equal the embedding "
            "dimension, but table '{}' has dimension {}",
            bottom.back(), t.name, t.dim));
      }
    }
  }
}

Activation RankingConfig::ResolvedOutputActivation() const {
  if (output_activation == "sigmoid") return Activation::kSigmoid;
  if (output_activation == "linear") return Activation::kLinear;
  return loss == LossKind::kBinaryCrossEntropy ? Activation::kSigmoid : Activation::kLinear;
}

}  // namespace crank
