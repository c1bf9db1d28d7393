#ifndef CRANK_MODEL_RANKING_CONFIG_H_
#define CRANK_MODEL_RANKING_CONFIG_H_

// The configuration of the default Ranking model (tfrs.experimental.models.Ranking with its
// default blocks), defined once:
//  - ModelConfig is the `model:` section of a job file (docs/config.md): the shape every
//    sparse feature's table shares (embedding_dim, pooling), the stacks, the interaction, the
//    regularization and the output. Its reader and writer live here with it.
//  - RankingConfig is what a Ranking is built from: the same shape fields with the tables and
//    features of one data set, the loss and the seed. Its in-class defaults are the fallbacks a
//    Ranking uses for blocks it is not given.
// Each rule is checked in one place (the functions in ranking_config.cc); Validate() throws a
// ConfigError whose key names the field ("model.top" for a ModelConfig, "top" for a
// RankingConfig). Plain structs: copy freely; not synchronized.

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "crank/base/enum_names.h"
#include "crank/kernels/activation.h"
#include "crank/kernels/embedding_bag.h"
#include "crank/layers/embedding_collection.h"
#include "crank/task/ranking_task.h"
#include "crank/yaml/reader.h"

namespace crank {

// The feature interaction: DLRM's pairwise dot products, DCN-v2 cross layers over the
// concatenation, or the concatenation itself.
enum class Interaction { kDot, kCross, kConcat };
inline constexpr EnumName<Interaction> kInteractionNames[] = {
    {"dot", Interaction::kDot}, {"cross", Interaction::kCross}, {"concat", Interaction::kConcat}};

// The activation of the model output. kAuto: sigmoid for binary cross-entropy (the TFRS top
// stack's final sigmoid; the loss is then computed stably from the logits), linear for mean
// squared error (ratings are not in [0, 1]).
enum class OutputActivation { kAuto, kSigmoid, kLinear };
inline constexpr EnumName<OutputActivation> kOutputActivationNames[] = {
    {"auto", OutputActivation::kAuto},
    {"sigmoid", OutputActivation::kSigmoid},
    {"linear", OutputActivation::kLinear}};

// How the output unit's bias starts. kLabelMean: before the first step it is set so the model
// predicts the first training batch's mean label (its log-odds for a sigmoid output) -- ratings
// then start near their mean instead of 0. kZero: the Keras/TFRS zero initialisation.
enum class OutputBiasInit { kLabelMean, kZero };
inline constexpr EnumName<OutputBiasInit> kOutputBiasInitNames[] = {
    {"label_mean", OutputBiasInit::kLabelMean}, {"zero", OutputBiasInit::kZero}};

// How embedding tables are stored (kernels/embedding_precision.h): fp32, or 16 bits with fp32
// arithmetic and stochastic rounding on update.
inline constexpr EnumName<EmbeddingPrecision> kEmbeddingPrecisionNames[] = {
    {"fp32", EmbeddingPrecision::kFp32},
    {"bf16", EmbeddingPrecision::kBf16},
    {"fp16", EmbeddingPrecision::kFp16}};

// The fields of the model's shape shared by ModelConfig and RankingConfig.
struct ModelShape {
  // Bottom stack: MLP with ReLU after every layer, the last included (TFRS default). Empty =
  // no bottom stack, which a model has exactly when it has no dense features.
  std::vector<int64_t> bottom = {256, 64, 16};
  // Top stack: MLP with ReLU between layers; the last layer's activation is output_activation.
  std::vector<int64_t> top = {512, 256, 1};
  Interaction interaction = Interaction::kDot;
  bool dot_self_interaction = false;
  bool dot_skip_gather = false;
  int cross_layers = 1;
  float cross_diag_scale = 0.0f;  // finite, >= 0
  bool cross_use_bias = true;
  // Bottom output concatenated in front of the interaction output (TFRS concat_dense).
  bool concat_dense = true;
  OutputActivation output_activation = OutputActivation::kAuto;
  // L2 regularization coefficients (Keras L2: l2 * sum(w^2)) per block. Embedding rows are
  // regularized when they are touched by a batch. Finite, >= 0.
  float embedding_l2 = 0.0f;
  float dense_l2 = 0.0f;
  // Catch-up of the embedding L2 (model/l2_regularization.h): a touched row's L2 gradient
  // counts the steps since the row last had one, at most this many; 0 or 1: only the step the
  // row is touched in (Keras/TFRS). In [0, kMaxEmbeddingL2CatchUp].
  int64_t embedding_l2_catch_up = 0;
};

// The largest embedding_l2_catch_up (a factor that float holds exactly).
inline constexpr int64_t kMaxEmbeddingL2CatchUp = 1000000;

// The `model:` section. Tables are created from the data: one per sparse feature with the
// feature's vocabulary size and embedding_dim columns.
struct ModelConfig : ModelShape {
  ModelConfig();  // the job defaults (docs/defaults.md): embedding_l2 1e-5

  int64_t embedding_dim = 16;
  Pooling pooling = Pooling::kMean;  // of multi-hot features
  // Storage of every table (TableConfig::precision): fp32 | bf16 | fp16.
  EmbeddingPrecision embedding_precision = EmbeddingPrecision::kFp32;
  int64_t cross_projection_dim = 0;  // 0 = full rank
  OutputBiasInit output_bias_init = OutputBiasInit::kLabelMean;

  // Reads the section (absent or null: the defaults) with the strict reader; type and key
  // errors name file:line and key. Does not Validate().
  static ModelConfig FromYaml(const YamlReader& section);
  // Writes the section's content as a mapping; FromYaml of it gives an equal configuration.
  void ToYaml(YAML::Emitter& out) const;
  // ConfigError with key "model.<field>" for a value out of range or inconsistent, including
  // the dot interaction's bottom width == embedding_dim (checked only for data with dense and
  // sparse features: without dense features the bottom stack is not built, without sparse ones
  // the interaction). `bottom: []` passes here and is refused by MakeRankingConfig for data
  // with dense features.
  void Validate(bool data_has_dense = true, bool data_has_sparse = true) const;
};

// Dense and sparse features: D >= 0, F >= 0, not both 0. D == 0: no bottom stack (`bottom`
// must be empty), the interaction sees the embeddings alone. F == 0 (no tables, no features):
// no interaction, the bottom output is the top stack's input (`interaction` and
// `concat_dense` are not used).
struct RankingConfig : ModelShape {
  // D: the number of dense features per example; 0 = none (then `bottom` must be empty).
  int64_t dense_features = 13;
  // Embedding tables and the sparse features that look them up (several features may share a
  // table). The interaction sees features in sorted feature-name order.
  std::vector<TableConfig> tables;
  std::vector<FeatureConfig> features;
  std::optional<int64_t> cross_projection_dim;  // none = full rank
  LossKind loss = LossKind::kBinaryCrossEntropy;
  // Seed for initialization.
  uint64_t seed = 0;
  // false: the embedding tables are allocated as zeros instead of drawn from the initializer,
  // for a caller that overwrites every variable next (loading a model file), where drawing
  // millions of truncated-normal values would be wasted. The seed's streams are consumed
  // either way, so nothing else about the model changes.
  bool draw_initial_tables = true;

  // Throws ConfigError with the offending field as key.
  void Validate() const;
  // The resolved output activation (sigmoid or linear).
  Activation ResolvedOutputActivation() const;
};

// A sparse feature of the data: its name and vocabulary size (ids lie in [0, V)).
struct SparseInput {
  std::string name;
  int64_t vocabulary_size = 0;
};
// The RankingConfig of `model` for data with `dense_features` dense fields and the given sparse
// features, one table each (model.embedding_dim columns, model.pooling): the shape fields copied
// once, in one place. With dense_features == 0 a non-empty model.bottom is dropped with a
// warning (no bottom stack); with dense_features > 0 an empty one is a ConfigError
// ("model.bottom"). Validated (ConfigError).
RankingConfig MakeRankingConfig(const ModelConfig& model, int64_t dense_features,
                                const std::vector<SparseInput>& sparse, LossKind loss,
                                uint64_t seed);

}  // namespace crank

#endif  // CRANK_MODEL_RANKING_CONFIG_H_
