#ifndef CRANK_LAYERS_EMBEDDING_LAYER_H_
#define CRANK_LAYERS_EMBEDDING_LAYER_H_

// The interface of the Ranking model's embedding layer: it turns the F sparse features of a
// batch into F dense (B, E_i) tensors. EmbeddingCollection (every table in this process) is the
// one implementation today; a sharded layer (tables split over processes, lookups exchanged
// between them) stands in through this interface, and the model sees nothing else of it.
//
// Features are ordered by name (FeatureNames()); that order is the order of the inputs and
// outputs of Forward, Backward and Predict, and of Batch::sparse.
//
// Lifecycle: construct (validates the configuration), Build(rng) once, then Forward/Backward
// pairs. Backward refers to the latest Forward(training = true), whose input the caller keeps
// alive until then, and ACCUMULATES each table's row-sparse gradient (Variable::sparse_grad).
//
// Thread-safety: Build, Forward, Backward and changing the variables need exclusive access.
// Predict is const: any number of threads may call it at once on one built layer, each with its
// own outputs and InferenceScratch, while no thread changes the layer.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/layers/inference_scratch.h"
#include "crank/layers/variable.h"
#include "crank/tensor/batch.h"
#include "crank/tensor/tensor.h"

namespace crank {

class EmbeddingLayer {
 public:
  virtual ~EmbeddingLayer() = default;

  // Creates and initialises the tables from rng.
  virtual void Build(Rng& rng) = 0;

  // Feature names, sorted: the order of the inputs and outputs. F entries.
  virtual const std::vector<std::string>& FeatureNames() const = 0;
  // E_i of each feature, in FeatureNames() order.
  virtual std::vector<int64_t> OutputDims() const = 0;

  // features: F inputs, features[i] for FeatureNames()[i], all with batch size B
  // -> *outputs: resized to F tensors, (*outputs)[i] is (B, E_i). Throws InvalidArgument on a
  // malformed input (counts, offsets, weights, ids outside a table) or when unbuilt. With
  // training, keeps a pointer to `features` for Backward.
  virtual void Forward(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
                       bool training) = 0;

  // d_outputs: F tensors (B, E_i), the gradient of the latest training Forward's outputs.
  // Accumulates into the tables' sparse gradients. InvalidArgument on a shape mismatch or
  // without a preceding training Forward.
  virtual void Backward(const std::vector<Tensor>& d_outputs) = 0;

  // Inference: as Forward(features, outputs, false), bit for bit, reading the tables only;
  // intermediates (if any) go to *scratch (caller-owned, one per thread).
  virtual void Predict(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
                       InferenceScratch* scratch) const = 0;

  // The tables (Variable::sparse == true), stable pointers valid for the layer's lifetime.
  // A sharded layer returns the tables (or shards) this process holds.
  virtual std::vector<Variable*> Variables() = 0;
};

}  // namespace crank

#endif  // CRANK_LAYERS_EMBEDDING_LAYER_H_
