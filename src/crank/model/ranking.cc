#include "crank/model/ranking.h"

#include <algorithm>
#include <cmath>
#include <cstring>

#include "crank/base/error.h"
#include "crank/layers/concat_interaction.h"
#include "crank/layers/cross.h"
#include "crank/layers/dot_interaction.h"
#include "crank/layers/embedding_collection.h"
#include "crank/layers/mlp.h"
#include "crank/optim/optimizer.h"

namespace crank {
namespace {

// The blocks of `config`; also the fallbacks of a Ranking built from partial blocks (with a
// default RankingConfig), so the defaults are written once, in RankingConfig.
std::unique_ptr<Mlp> MakeBottomStack(const ModelShape& config) {
  MlpOptions bottom;
  bottom.units = config.bottom;
  bottom.final_activation = Activation::kRelu;
  bottom.kernel_l2 = config.dense_l2;
  return std::make_unique<Mlp>("bottom", bottom);
}

std::unique_ptr<FeatureInteraction> MakeInteraction(const RankingConfig& config) {
  switch (config.interaction) {
    case Interaction::kDot: {
      DotInteractionOptions o;
      o.self_interaction = config.dot_self_interaction;
      o.skip_gather = config.dot_skip_gather;
      return std::make_unique<DotInteraction>(o);
    }
    case Interaction::kCross: {
      CrossInteractionOptions o;
      o.num_layers = config.cross_layers;
      o.cross.projection_dim = config.cross_projection_dim;
      o.cross.diag_scale = config.cross_diag_scale;
      o.cross.use_bias = config.cross_use_bias;
      o.cross.kernel_l2 = config.dense_l2;
      return std::make_unique<CrossInteraction>(o);
    }
    case Interaction::kConcat:
      break;
  }
  return std::make_unique<ConcatInteraction>();
}

std::unique_ptr<Mlp> MakeTopStack(const ModelShape& config) {
  MlpOptions top;
  top.units = config.top;
  top.final_activation = Activation::kLinear;  // the output activation is applied by the model
  top.kernel_l2 = config.dense_l2;
  return std::make_unique<Mlp>("top", top);
}

RankingBlocks DefaultBlocks(const RankingConfig& config,
                            std::unique_ptr<EmbeddingLayer> embedding = nullptr) {
  config.Validate();
  RankingBlocks b;
  if (embedding) {
    b.embedding = std::move(embedding);
  } else {
    auto collection = std::make_unique<EmbeddingCollection>(config.tables, config.features);
    if (!config.draw_initial_tables) collection->SkipInitialDraw();
    b.embedding = std::move(collection);
  }
  // No dense features: no bottom stack; no sparse features: no interaction.
  if (config.dense_features > 0) b.bottom_stack = MakeBottomStack(config);
  if (!config.features.empty()) b.feature_interaction = MakeInteraction(config);
  b.top_stack = MakeTopStack(config);
  RankingTaskOptions task;
  task.loss = config.loss;
  b.task = std::make_unique<RankingTask>(task);
  b.concat_dense = config.concat_dense;
  b.output_activation = config.ResolvedOutputActivation();
  return b;
}

}  // namespace

Ranking::Ranking(const RankingConfig& config)
    : Ranking(DefaultBlocks(config), config.dense_features, config.seed) {
  SetEmbeddingL2(config);
}

Ranking::Ranking(const RankingConfig& config, std::unique_ptr<EmbeddingLayer> embedding)
    : Ranking(DefaultBlocks(config, std::move(embedding)), config.dense_features, config.seed) {
  SetEmbeddingL2(config);
}

void Ranking::SetEmbeddingL2(const RankingConfig& config) {
  if (config.embedding_l2 == 0.0f) return;
  for (Variable* v : EmbeddingTrainableVariables()) {
    v->l2 = config.embedding_l2;
    v->l2_catch_up = config.embedding_l2_catch_up;
  }
}

Ranking::Ranking(RankingBlocks blocks, int64_t dense_features, uint64_t seed)
    : blocks_(std::move(blocks)), dense_features_(dense_features) {
  if (!blocks_.embedding) throw InvalidArgument("Ranking needs an embedding layer");
  if (dense_features_ < 0) {
    throw InvalidArgument(
        fmt::format("Ranking needs a dense feature count >= 0, got {}", dense_features_));
  }
  if (blocks_.output_activation == Activation::kRelu) {
    throw InvalidArgument("the model output activation must be sigmoid or linear, got relu");
  }
  // Independent streams per block, so replacing one block does not change another's init.
  Rng root(seed);
  Rng emb_rng = root.Fork(1), bottom_rng = root.Fork(2), inter_rng = root.Fork(3),
      top_rng = root.Fork(4);
  blocks_.embedding->Build(emb_rng);
  std::vector<int64_t> widths = blocks_.embedding->OutputDims();
  const bool has_dense = dense_features_ > 0;
  const bool has_sparse = !widths.empty();
  if (!has_dense && !has_sparse) {
    throw InvalidArgument("Ranking needs dense or sparse features, got neither");
  }
  if (!has_dense && blocks_.bottom_stack) {
    throw InvalidArgument(
        "the model has no dense features, so no bottom stack: expected none, got one");
  }
  if (!has_sparse && blocks_.feature_interaction) {
    throw InvalidArgument(
        "the model has no sparse features, so no feature interaction (the bottom output is the "
        "top stack's input): expected none, got one");
  }
  const RankingConfig defaults;  // the fallbacks of blocks not given
  if (has_dense && !blocks_.bottom_stack) blocks_.bottom_stack = MakeBottomStack(defaults);
  if (has_sparse && !blocks_.feature_interaction) {
    blocks_.feature_interaction = MakeInteraction(defaults);
  }
  if (!blocks_.top_stack) blocks_.top_stack = MakeTopStack(defaults);
  if (!blocks_.task) blocks_.task = std::make_unique<RankingTask>();
  concat_ = blocks_.concat_dense && has_dense && has_sparse;
  if (has_dense) bottom_width_ = blocks_.bottom_stack->Build(dense_features_, bottom_rng);

  if (has_dense && dynamic_cast<DotInteraction*>(blocks_.feature_interaction.get()) != nullptr) {
    const auto& names = blocks_.embedding->FeatureNames();
    for (size_t i = 0; i < widths.size(); ++i) {
      if (widths[i] != bottom_width_) {
        throw InvalidArgument(fmt::format(
            "dot interaction needs the bottom stack output width ({}) to equal the embedding "
            "dimension of every sparse feature, but feature '{}' has dimension {}",
            bottom_width_, names[i], widths[i]));
      }
    }
  }
  const size_t f = widths.size();
  if (has_sparse) {
    if (has_dense) widths.push_back(bottom_width_);
    interaction_width_ = blocks_.feature_interaction->Build(widths, inter_rng);
    if (interaction_width_ <= 0) {
      throw InvalidArgument(fmt::format(
          "the feature interaction {} has no output for {} vector(s) (a dot interaction needs "
          "two, or self_interaction)",
          blocks_.feature_interaction->Describe(), widths.size()));
    }
  }
  const int64_t top_in =
      has_sparse ? (concat_ ? bottom_width_ : 0) + interaction_width_ : bottom_width_;
  const int64_t top_width = blocks_.top_stack->Build(top_in, top_rng);
  if (top_width != 1) {
    throw InvalidArgument(
        fmt::format("the top stack must output one column, its output has width {}", top_width));
  }
  // Backward runs the top stack and then the bottom stack, never both at once: when both are
  // Mlps, one set of gradient buffers between layers serves the two.
  auto* top_mlp = dynamic_cast<Mlp*>(blocks_.top_stack.get());
  auto* bottom_mlp = dynamic_cast<Mlp*>(blocks_.bottom_stack.get());
  if (top_mlp != nullptr && bottom_mlp != nullptr) top_mlp->ShareGradientScratch(*bottom_mlp);
  d_emb_.resize(f);
  feature_ptrs_.resize(widths.size());
  d_feature_ptrs_.resize(widths.size());
  for (size_t i = 0; i < f; ++i) d_feature_ptrs_[i] = &d_emb_[i];
  // The interaction's gradient of the bottom output goes straight to d_bottom_out_; with
  // concat_dense, Backward then adds the top stack's.
  if (widths.size() > f) d_feature_ptrs_[f] = &d_bottom_out_;
}

Ranking::~Ranking() = default;

Block& Ranking::bottom_stack() {
  CRANK_REQUIRE(has_bottom_stack(), "the model has no bottom stack (no dense features)");
  return *blocks_.bottom_stack;
}

FeatureInteraction& Ranking::feature_interaction() {
  CRANK_REQUIRE(has_interaction(), "the model has no feature interaction (no sparse features)");
  return *blocks_.feature_interaction;
}

const std::vector<std::string>& Ranking::SparseFeatureNames() const {
  return blocks_.embedding->FeatureNames();
}

void Ranking::SetOptimizer(std::unique_ptr<Optimizer> optimizer) {
  optimizer_ = std::move(optimizer);
}

void Ranking::PrepareInference() {
  if (blocks_.bottom_stack) blocks_.bottom_stack->PrepareInference();
  blocks_.top_stack->PrepareInference();
}

std::vector<Variable*> Ranking::EmbeddingTrainableVariables() {
  return blocks_.embedding->Variables();
}

std::vector<Variable*> Ranking::DenseTrainableVariables() {
  std::vector<Variable*> out;
  if (blocks_.bottom_stack) {
    for (Variable* v : blocks_.bottom_stack->Variables()) out.push_back(v);
  }
  if (blocks_.feature_interaction) {
    for (Variable* v : blocks_.feature_interaction->Variables()) out.push_back(v);
  }
  for (Variable* v : blocks_.top_stack->Variables()) out.push_back(v);
  return out;
}

std::vector<Variable*> Ranking::TrainableVariables() {
  std::vector<Variable*> out = EmbeddingTrainableVariables();
  for (Variable* v : DenseTrainableVariables()) out.push_back(v);
  return out;
}

std::map<std::string, double> Ranking::Metrics() const { return blocks_.task->Metrics(); }
void Ranking::ResetMetrics() { blocks_.task->ResetMetrics(); }

void Ranking::ValidateBatch(const Batch& batch, bool need_labels) const {
  if (batch.dense.rank() != 2) {
    throw InvalidArgument(fmt::format("dense features: expected a (batch, {}) tensor, got shape {}",
                                      dense_features_, batch.dense.ShapeString()));
  }
  const int64_t b = batch.dense.dim(0);
  if (batch.dense.dim(1) != dense_features_) {
    throw InvalidArgument(fmt::format("dense features: expected {} columns, got {} (shape {})",
                                      dense_features_, batch.dense.dim(1),
                                      batch.dense.ShapeString()));
  }
  if (b == 0) throw InvalidArgument("batch is empty: expected at least one example");
  const auto& names = SparseFeatureNames();
  if (batch.sparse.size() != names.size()) {
    throw InvalidArgument(fmt::format("sparse features: expected {} features ({}), got {}",
                                      names.size(), fmt::join(names, ", "), batch.sparse.size()));
  }
  for (size_t i = 0; i < names.size(); ++i) {
    if (batch.sparse[i].batch_size() != b) {
      throw InvalidArgument(fmt::format(
          "sparse feature '{}': expected {} examples (offsets of size {}), got offsets of size {}",
          names[i], b, b + 1, batch.sparse[i].offsets.size()));
    }
  }
  if (need_labels) {
    if (batch.labels.size() != b || batch.labels.rank() > 2 ||
        (batch.labels.rank() == 2 && batch.labels.dim(1) != 1)) {
      throw InvalidArgument(
          fmt::format("labels: expected shape ({},) for {} examples, got shape {}", b, b,
                      batch.labels.ShapeString()));
    }
  }
  if (!batch.weights.empty()) {
    if (batch.weights.size() != b || batch.weights.rank() > 2 ||
        (batch.weights.rank() == 2 && batch.weights.dim(1) != 1)) {
      throw InvalidArgument(
          fmt::format("sample weights: expected shape ({},) for {} examples, got shape {}", b, b,
                      batch.weights.ShapeString()));
    }
  }
}

namespace {

// Throws unless the bottom stack produced (B, Hb).
void CheckBottomOutput(const Tensor& out, int64_t b, int64_t hb) {
  if (out.rank() != 2 || out.dim(0) != b || out.dim(1) != hb) {
    throw InvalidArgument(fmt::format("bottom stack: expected output shape ({}, {}), got {}", b, hb,
                                      out.ShapeString()));
  }
}

// Throws unless the top stack produced B values.
void CheckTopOutput(const Tensor& out, int64_t b) {
  if (out.size() != b) {
    throw InvalidArgument(
        fmt::format("top stack: expected output shape ({}, 1), got {}", b, out.ShapeString()));
  }
}

// bottom: (B, Hb) -> the first Hb columns of top_in: (B, Hb + Hi).
void CopyBottomColumns(const Tensor& bottom, Tensor* top_in) {
  const int64_t b = bottom.dim(0), hb = bottom.dim(1);
  for (int64_t r = 0; r < b; ++r) std::memcpy(top_in->row(r), bottom.row(r), sizeof(float) * hb);
}

}  // namespace

void Ranking::Forward(const Batch& batch) {
  const int64_t b = batch.dense.dim(0);
  blocks_.embedding->Forward(batch.sparse, &emb_out_, /*training=*/true);
  if (has_bottom_stack()) {
    blocks_.bottom_stack->Forward(batch.dense, &bottom_out_, /*training=*/true);
    CheckBottomOutput(bottom_out_, b, bottom_width_);
  }
  const Tensor* top_in = &bottom_out_;  // without sparse features
  if (has_interaction()) {
    const size_t f = emb_out_.size();
    for (size_t i = 0; i < f; ++i) feature_ptrs_[i] = &emb_out_[i];
    if (has_bottom_stack()) feature_ptrs_[f] = &bottom_out_;
    const int64_t hb = concat_ ? bottom_width_ : 0;
    top_in_.Resize({b, hb + interaction_width_});
    if (concat_) CopyBottomColumns(bottom_out_, &top_in_);
    // The features are this model's tensors, unchanged until Backward: referenced, not copied.
    blocks_.feature_interaction->ForwardInto(
        feature_ptrs_, Columns(top_in_, hb, interaction_width_), /*training=*/true);
    top_in = &top_in_;
  }
  // top_in is one of this model's tensors, unchanged until Backward: referenced, not copied.
  blocks_.top_stack->ForwardBorrowed(*top_in, &top_out_, /*training=*/true);
  CheckTopOutput(top_out_, b);
  outputs_.Resize({b});
  std::memcpy(outputs_.data(), top_out_.data(), sizeof(float) * b);
}

void Ranking::SetComputeSettings(const ComputeSettings& settings) {
  settings.Validate();
  compute_settings_ = settings;
}

const Tensor& Ranking::ForwardInference(const Batch& batch, InferenceWorkspace* ws) const {
  const int64_t b = batch.dense.dim(0);
  blocks_.embedding->Predict(batch.sparse, &ws->embeddings, &ws->embedding_scratch);
  if (blocks_.bottom_stack) {
    blocks_.bottom_stack->Predict(batch.dense, &ws->bottom_out, &ws->bottom_scratch);
    CheckBottomOutput(ws->bottom_out, b, bottom_width_);
  }
  const Tensor* top_in = &ws->bottom_out;  // without sparse features
  if (blocks_.feature_interaction) {
    const size_t f = ws->embeddings.size();
    ws->features.resize(f + (blocks_.bottom_stack ? 1 : 0));
    for (size_t i = 0; i < f; ++i) ws->features[i] = &ws->embeddings[i];
    if (blocks_.bottom_stack) ws->features[f] = &ws->bottom_out;
    const int64_t hb = concat_ ? bottom_width_ : 0;
    ws->top_in.Resize({b, hb + interaction_width_});
    if (concat_) CopyBottomColumns(ws->bottom_out, &ws->top_in);
    blocks_.feature_interaction->PredictInto(
        ws->features, Columns(ws->top_in, hb, interaction_width_), &ws->interaction_scratch);
    top_in = &ws->top_in;
  }
  blocks_.top_stack->Predict(*top_in, &ws->top_out, &ws->top_scratch);
  CheckTopOutput(ws->top_out, b);
  ws->logits.Resize({b});
  std::memcpy(ws->logits.data(), ws->top_out.data(), sizeof(float) * b);
  return ws->logits;
}

double Ranking::ComputeLoss(const Batch& batch, bool training) {
  const ScopedComputeSettings compute(compute_settings_);
  ValidateBatch(batch, /*need_labels=*/true);
  has_training_forward_ = false;
  const Tensor* outputs = nullptr;
  if (training) {
    Forward(batch);
    has_training_forward_ = true;
    outputs = &outputs_;
  } else {
    outputs = &ForwardInference(batch, &workspace_);
  }
  const bool logits = blocks_.output_activation == Activation::kSigmoid;
  return blocks_.task->ComputeLoss(*outputs, logits, batch.labels,
                                   batch.weights.empty() ? nullptr : &batch.weights,
                                   training ? &d_outputs_ : nullptr, /*update_metrics=*/!training);
}

bool Ranking::InitializeOutputBias(double label_mean) {
  const std::vector<Variable*> top = blocks_.top_stack->Variables();
  if (top.empty() || top.back()->value.size() != 1 || top.back()->value.rank() != 1) return false;
  double v = label_mean;
  if (blocks_.output_activation == Activation::kSigmoid) {
    const double p = std::clamp(label_mean, 1e-4, 1.0 - 1e-4);
    v = std::log(p / (1.0 - p));
  }
  top.back()->value[0] = static_cast<float>(v);
  return true;
}

void Ranking::ZeroGrad() {
  for (Variable* v : TrainableVariables()) v->ZeroGrad();
}

void Ranking::Backward(const Tensor& d_outputs) {
  if (!has_training_forward_) {
    throw InvalidArgument(
        "Ranking::Backward needs a preceding ComputeLoss(batch, training = true)");
  }
  const int64_t b = d_outputs.size();
  d_top_out_.Resize({b, 1});
  std::memcpy(d_top_out_.data(), d_outputs.data(), sizeof(float) * b);
  const bool has_bottom = has_bottom_stack(), has_interaction = this->has_interaction();
  blocks_.top_stack->Backward(d_top_out_, has_interaction ? &d_top_in_ : &d_bottom_out_);
  if (has_interaction) {
    // The interaction reads its columns of d_top_in_ in place and writes the bottom output's
    // share to d_bottom_out_ (d_feature_ptrs_); with concat_dense the top stack's share, the
    // first Hb columns, is added to it (the sum of the same two terms as adding the
    // interaction's share to a copy of the top stack's: the same bits).
    const int64_t hb = concat_ ? bottom_width_ : 0;
    blocks_.feature_interaction->BackwardFrom(Columns(d_top_in_, hb, interaction_width_),
                                              d_feature_ptrs_);
    if (concat_) {
      CRANK_CHECK(d_bottom_out_.rank() == 2 && d_bottom_out_.dim(0) == b &&
                  d_bottom_out_.dim(1) == hb);
      for (int64_t r = 0; r < b; ++r) {
        const float* src = d_top_in_.row(r);
        float* dst = d_bottom_out_.row(r);
        for (int64_t j = 0; j < hb; ++j) dst[j] += src[j];
      }
    }
  }
  if (has_bottom) blocks_.bottom_stack->Backward(d_bottom_out_, nullptr);
  blocks_.embedding->Backward(d_emb_);
}

double Ranking::ApplyRegularization() {
  return ApplyL2Regularization(TrainableVariables(), &l2_scratch_, optimizer_.get());
}

StepResult Ranking::ComputeGradients(const Batch& batch) {
  const ScopedComputeSettings compute(compute_settings_);
  ZeroGrad();
  StepResult r;
  r.loss = ComputeLoss(batch, /*training=*/true);
  Backward(d_outputs_);
  r.regularization_loss = ApplyRegularization();
  r.total_loss = r.loss + r.regularization_loss;
  return r;
}

StepResult Ranking::TrainStep(const Batch& batch) {
  if (!optimizer_) throw InvalidArgument("TrainStep needs an optimizer: call SetOptimizer first");
  const ScopedComputeSettings compute(compute_settings_);
  const StepResult r = ComputeGradients(batch);
  if (std::isfinite(r.total_loss)) {
    optimizer_->Apply(TrainableVariables());
  }
  return r;
}

double Ranking::TestStep(const Batch& batch) {
  const ScopedComputeSettings compute(compute_settings_);
  return ComputeLoss(batch, /*training=*/false);
}

void Ranking::Predict(const Batch& batch, Tensor* predictions) {
  has_training_forward_ = false;
  Predict(batch, &workspace_, predictions);
}

void Ranking::Predict(const Batch& batch, InferenceWorkspace* workspace,
                      Tensor* predictions) const {
  CRANK_CHECK(workspace != nullptr && predictions != nullptr);
  const ScopedComputeSettings compute(compute_settings_);
  ValidateBatch(batch, /*need_labels=*/false);
  const Tensor& logits = ForwardInference(batch, workspace);
  const int64_t b = logits.size();
  predictions->Resize({b});
  const bool sigmoid = blocks_.output_activation == Activation::kSigmoid;
  for (int64_t i = 0; i < b; ++i) {
    const float z = logits[i];
    (*predictions)[i] = sigmoid ? 1.0f / (1.0f + std::exp(-z)) : z;
  }
}

}  // namespace crank
