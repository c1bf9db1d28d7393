#ifndef CRANK_MODEL_RANKING_H_
#define CRANK_MODEL_RANKING_H_

// The configurable ranking model: tfrs.experimental.models.Ranking.
//
//   sparse features --embedding layer--> F x (B, E)  (sorted feature-name order)
//   dense (B, D) --bottom stack--> (B, Hb)
//   interaction([emb_0 .. emb_{F-1}, bottom]) --> (B, Hi)
//   concat_dense ? [bottom, interaction] : interaction --> (B, Hb + Hi) --top stack--> (B, 1)
//   output activation (sigmoid for CTR) --> predictions (B)
//   task (BCE or MSE, optional sample weights) --> loss, metrics
//
// Without dense features (D == 0) there is no bottom stack: the interaction sees the F
// embeddings alone and the top stack takes its output (concat_dense has nothing to
// concatenate). Without sparse features (F == 0) there is no interaction: the bottom output is
// the top stack's input. Batch::dense is (B, 0) when D == 0.
//
// Every block can be replaced by a user-defined one (RankingBlocks). Dense layers are explicit:
// Forward and Backward call the blocks in order.
//
// Thread-safety: training, evaluation and the non-const Predict keep their activations in the
// model, so one thread of control drives them (kernels inside parallelise with OpenMP). The
// const Predict keeps them in a caller-owned InferenceWorkspace instead: any number of threads
// may predict with one model at once, one workspace each, while no thread changes the model
// (training, loading variables, SetOptimizer).

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "crank/kernels/activation.h"
#include "crank/kernels/compute_settings.h"
#include "crank/layers/block.h"
#include "crank/layers/embedding_layer.h"
#include "crank/layers/feature_interaction.h"
#include "crank/layers/inference_scratch.h"
#include "crank/layers/variable.h"
#include "crank/model/l2_regularization.h"
#include "crank/model/ranking_config.h"
#include "crank/task/ranking_task.h"
#include "crank/tensor/batch.h"

namespace crank {

class Optimizer;

// The activations of one inference forward through a Ranking model (Ranking::Predict const):
// owned by the caller, one per thread, reusable across batches and models. Buffers keep their
// capacity, so once a workspace has served the largest batch it will see, predicting with it
// does not allocate. Its contents are the model's business. Not thread-safe: one thread uses a
// workspace at a time (it may move between threads between calls).
class InferenceWorkspace {
 public:
  InferenceWorkspace() = default;
  InferenceWorkspace(const InferenceWorkspace&) = delete;
  InferenceWorkspace& operator=(const InferenceWorkspace&) = delete;
  InferenceWorkspace(InferenceWorkspace&&) noexcept = default;
  InferenceWorkspace& operator=(InferenceWorkspace&&) noexcept = default;

 private:
  friend class Ranking;
  std::vector<Tensor> embeddings;       // F x (B, E_i)
  Tensor bottom_out;                    // (B, Hb)
  Tensor top_in;                        // (B, Hb + Hi) or (B, Hi) with an interaction
  Tensor top_out;                       // (B, 1)
  Tensor logits;                        // (B)
  std::vector<const Tensor*> features;  // F (+ 1 with a bottom stack) interaction inputs
  InferenceScratch embedding_scratch, bottom_scratch, interaction_scratch, top_scratch;
};

// The blocks of a Ranking model. Null members get the TFRS defaults (bottom MLP 256-64-16,
// DotInteraction, top MLP 512-256-1, Ranking task with BCE); the embedding layer is required
// (an EmbeddingCollection, or any other EmbeddingLayer; one with no features for a dense-only
// model). A model without dense features has no bottom stack and one without sparse features
// no interaction: giving one then is an InvalidArgument.
struct RankingBlocks {
  std::unique_ptr<EmbeddingLayer> embedding;
  std::unique_ptr<Block> bottom_stack;
  std::unique_ptr<FeatureInteraction> feature_interaction;
  std::unique_ptr<Block> top_stack;  // must output one column (B, 1)
  std::unique_ptr<RankingTask> task;
  bool concat_dense = true;
  // Applied to the top stack's output; with sigmoid the task computes BCE from the logits.
  Activation output_activation = Activation::kSigmoid;
};

// What train_step returns (as TFRS: the task loss, the regularization loss and their sum).
struct StepResult {
  double loss = 0.0;
  double regularization_loss = 0.0;
  double total_loss = 0.0;
};

class Ranking {
 public:
  // Builds all blocks for `dense_features` dense inputs (D >= 0) and initialises their variables
  // from `seed`. Throws InvalidArgument if widths do not fit (e.g. for dot interaction the
  // bottom output width must equal the embedding dimension), if D == 0 and the embedding layer
  // has no features, or if the interaction has no output (a dot interaction of one vector
  // without self_interaction has no pairs).
  Ranking(RankingBlocks blocks, int64_t dense_features, uint64_t seed);
  // The default blocks described by `config`.
  explicit Ranking(const RankingConfig& config);
  // The blocks of `config` with `embedding` in place of its EmbeddingCollection (e.g. a layer
  // whose tables live on several processes); `embedding` must have the features of
  // config.features, and gets config.embedding_l2 on its Variables().
  Ranking(const RankingConfig& config, std::unique_ptr<EmbeddingLayer> embedding);
  ~Ranking();
  Ranking(const Ranking&) = delete;
  Ranking& operator=(const Ranking&) = delete;

  // Forward pass + task loss. training = false updates the task metrics (evaluation);
  // training = true keeps the caches for Backward and leaves the metrics alone, so a long
  // training run does not accumulate AUC state (the loss is returned instead). Throws
  // InvalidArgument on any batch shape or count mismatch.
  double ComputeLoss(const Batch& batch, bool training = false);

  // Forward, backward and regularization: leaves d(total loss)/d(variable) in every variable's
  // gradient (cleared first) and returns the losses. No weights change.
  StepResult ComputeGradients(const Batch& batch);
  // ComputeGradients plus one optimizer update (skipped when the loss is not finite, so the
  // weights stay as they were); returns the losses. Requires SetOptimizer.
  StepResult TrainStep(const Batch& batch);
  // Forward + loss + metrics without updating weights.
  double TestStep(const Batch& batch);
  // predictions: (B) model outputs after the output activation. Labels are not needed.
  // Uses the model's own workspace (one thread of control); equals the const Predict bit for bit.
  void Predict(const Batch& batch, Tensor* predictions);
  // The same, reading the model only: activations go to *workspace (caller-owned, one per
  // thread), *predictions is resized to (B). Safe on many threads at once, each with its own
  // workspace and predictions, while no thread changes the model. Throws InvalidArgument on any
  // batch shape or count mismatch (as ComputeLoss).
  void Predict(const Batch& batch, InferenceWorkspace* workspace, Tensor* predictions) const;

  // For a model that inference will only read (LoadModel calls it): the dense stacks keep their
  // weights as their products use them (Block::PrepareInference; the bf16 kernel copies), so
  // Predict and TestStep do not convert them on every call. Predictions do not change. The
  // blocks drop what they kept when their variables may change: a training forward, and every
  // call that hands out their variables (TrainableVariables and the like).
  void PrepareInference();

  // The optimizer used by TrainStep (TFRS compile(optimizer=...)); a CompositeOptimizer gives
  // embeddings and dense variables separate optimizers.
  void SetOptimizer(std::unique_ptr<Optimizer> optimizer);
  Optimizer* optimizer() { return optimizer_.get(); }

  // Thread count and GEMM precision of this model's computations: ComputeLoss,
  // ComputeGradients, TrainStep, TestStep and Predict install them on the calling thread for the
  // call (ScopedComputeSettings, kernels/compute_settings.h). The defaults keep the process-wide
  // settings. Throws InvalidArgument when settings.Validate() does.
  void SetComputeSettings(const ComputeSettings& settings);
  const ComputeSettings& compute_settings() const { return compute_settings_; }

  // Exactly the non-embedding variables, and exactly the embedding tables.
  std::vector<Variable*> DenseTrainableVariables();
  std::vector<Variable*> EmbeddingTrainableVariables();
  std::vector<Variable*> TrainableVariables();

  // Task metrics since the last ResetMetrics (see RankingTask::Metrics).
  std::map<std::string, double> Metrics() const;
  void ResetMetrics();

  const std::vector<std::string>& SparseFeatureNames() const;
  int64_t dense_features() const { return dense_features_; }
  RankingTask& task() { return *blocks_.task; }
  EmbeddingLayer& embedding() { return *blocks_.embedding; }
  Activation output_activation() const { return blocks_.output_activation; }
  // The blocks, for readers of a built model (an exporter); the model keeps ownership.
  // bottom_stack() requires has_bottom_stack(), feature_interaction() has_interaction().
  bool has_bottom_stack() const { return blocks_.bottom_stack != nullptr; }
  bool has_interaction() const { return blocks_.feature_interaction != nullptr; }
  Block& bottom_stack();
  FeatureInteraction& feature_interaction();
  Block& top_stack() { return *blocks_.top_stack; }
  // Whether the top stack's input is [bottom output | interaction output]: concat_dense, when
  // the model has both a bottom stack and an interaction.
  bool concat_dense() const { return concat_; }

  // Sets the bias of the model's output unit (the top stack's last variable, when it has shape
  // (1,)) so the initial prediction is `label_mean`: its logit for a sigmoid output, the value
  // itself for a linear one. Returns false when the top stack has no such bias.
  bool InitializeOutputBias(double label_mean);

  // Sets every gradient to zero (the one place gradients are cleared).
  void ZeroGrad();
  // Backward pass from d(loss)/d(outputs) (B) after a training-mode forward. Accumulates.
  // InvalidArgument when the latest forward was not ComputeLoss(batch, training = true).
  void Backward(const Tensor& d_outputs);
  // Adds the L2 penalty's gradient to the variables' gradients and returns the penalty. A
  // table with L2 catch-up (RankingConfig::embedding_l2_catch_up) counts the steps of the
  // model's optimizer and keeps its per-row state there; without an optimizer it has none.
  double ApplyRegularization();

 private:
  // The embedding tables' l2 and l2_catch_up from config.
  void SetEmbeddingL2(const RankingConfig& config);
  void ValidateBatch(const Batch& batch, bool need_labels) const;
  // The training forward: runs the blocks keeping their caches for Backward; leaves the logits
  // in outputs_ (B).
  void Forward(const Batch& batch);
  // The inference forward (blocks' const Predict) into *ws; returns ws->logits (B).
  const Tensor& ForwardInference(const Batch& batch, InferenceWorkspace* ws) const;

  RankingBlocks blocks_;
  int64_t dense_features_ = 0;
  int64_t bottom_width_ = 0;
  int64_t interaction_width_ = 0;
  bool concat_ = false;  // the top input is [bottom | interaction]
  std::unique_ptr<Optimizer> optimizer_;
  ComputeSettings compute_settings_;
  InferenceWorkspace workspace_;       // evaluation and the non-const Predict
  bool has_training_forward_ = false;  // the latest forward kept the caches for Backward

  // Activations and gradients, reused across steps. With an interaction, the top input holds
  // [bottom | interaction] (concat_) or the interaction output alone: the interaction writes its
  // columns in place (FeatureInteraction::ForwardInto) and reads its gradient from the same
  // columns of d_top_in_ (BackwardFrom), so neither has a tensor of its own.
  std::vector<Tensor> emb_out_;  // F x (B, E_i)
  Tensor bottom_out_;            // (B, Hb)
  Tensor top_in_;                // (B, Hb + Hi) or (B, Hi)
  Tensor top_out_;               // (B, 1)
  Tensor outputs_;               // (B)
  Tensor d_outputs_;             // (B)
  Tensor d_top_out_;             // (B, 1)
  Tensor d_top_in_;              // (B, Hb + Hi) or (B, Hi)
  std::vector<Tensor> d_emb_;    // F x (B, E_i)
  Tensor d_bottom_out_;          // (B, Hb)
  std::vector<const Tensor*> feature_ptrs_;
  std::vector<Tensor*> d_feature_ptrs_;
  L2Scratch l2_scratch_;  // ApplyRegularization's buffers
};

}  // namespace crank

#endif  // CRANK_MODEL_RANKING_H_
