#ifndef CRANK_LAYERS_EMBEDDING_COLLECTION_H_
#define CRANK_LAYERS_EMBEDDING_COLLECTION_H_

// A collection of embedding tables and the sparse features that look them up, as TFRS/TPU
// embedding TableConfig/FeatureConfig and TorchRec EmbeddingBagCollection: the EmbeddingLayer
// (layers/embedding_layer.h) that holds every table in this process.
//
// Each table is a (V, E) Variable named "embedding/<table name>" with a row-sparse gradient
// (Variable::sparse == true), initialised from a truncated normal (re-drawn beyond 2 stddev)
// with stddev init_stddev, 1/sqrt(E) by default, as tf.tpu.experimental.embedding.TableConfig.
// Each feature reads one table (several features may share one) and pools its bag of ids per
// example with its Pooling (see kernels/embedding_bag.h): one (B, E) output per feature.
//
// A table with precision bf16 or fp16 is stored in 16 bits (Variable::value16): Build draws the
// fp32 initial values and rounds them to nearest; Forward pools the widened rows in fp32
// (EmbeddingBagForward16: the fp32 lookup of the widened table, bit for bit); Backward is the
// fp32 one. Its stochastic-rounding seed (Variable::rounding_seed) comes from Build's rng.
//
// Features are ordered by name; that order (FeatureNames()) is the order of the inputs and
// outputs of Forward/Backward and of Batch::sparse.
//
// Lifecycle: construct (validates the configuration), Build(rng) once, then Forward/Backward
// pairs. Backward refers to the latest Forward(training = true), whose input the caller keeps
// alive until then. Backward accumulates the merged row-sparse gradient of every table: the
// ids read by the batch (unique, ascending) and their summed gradient rows; rows the batch does
// not read get no entry. Buffers are reused, so steady-state steps do not allocate.
// Predict is const and needs no scratch: it may run on many threads at once while nothing
// changes the collection; the rest is not thread-safe. The kernels it calls run on the OpenMP
// threads and are deterministic for any thread count.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/embedding_bag.h"
#include "crank/layers/embedding_layer.h"
#include "crank/layers/variable.h"
#include "crank/tensor/batch.h"
#include "crank/tensor/tensor.h"

namespace crank {

struct TableConfig {
  std::string name;
  int64_t vocabulary_size = 0;  // V, rows
  int64_t dim = 0;              // E, columns
  double init_stddev = 0;       // 0 => 1/sqrt(dim)
  float l2 = 0;                 // Variable::l2 of the table
  // Storage of the table's values (Variable::precision): fp32, or bf16 / fp16 (half the memory;
  // lookups widen to fp32 exactly, gradients stay fp32, optimizers round stochastically).
  EmbeddingPrecision precision = EmbeddingPrecision::kFp32;
};

struct FeatureConfig {
  std::string name;
  std::string table;
  Pooling pooling = Pooling::kMean;
};

class EmbeddingCollection : public EmbeddingLayer {
 public:
  // Throws InvalidArgument unless: table and feature names are non-empty and unique; every
  // feature's table exists; vocabulary_size > 0, dim > 0, init_stddev >= 0 and l2 >= 0 (finite).
  // Tables keep their given order; features are sorted by name.
  EmbeddingCollection(std::vector<TableConfig> tables, std::vector<FeatureConfig> features);

  // Creates and initialises the table variables, drawing from rng in table order.
  void Build(Rng& rng) override;
  // Before Build: Build allocates the tables as zeros instead of drawing them (it still takes
  // its value from rng), for a caller that restores every row next.
  void SkipInitialDraw() { draw_initial_rows_ = false; }
  // Rows [row_begin, row_end) of table `c` (index `table` in the collection) as Build draws them
  // when `root_seed` is the value Build takes from its rng (rng.NextU64()): (row_end -
  // row_begin, c.dim) values into out. Lets a collection that holds part of a table
  // (hybrid-parallel training) draw its rows without drawing the whole table.
  static void InitialRows(const TableConfig& c, size_t table, uint64_t root_seed, int64_t row_begin,
                          int64_t row_end, float* out);
  // The stochastic-rounding seed (Variable::rounding_seed) Build gives table `table` when it
  // stores it in 16 bits and `root_seed` is the value Build takes from its rng.
  static uint64_t RoundingSeed(size_t table, uint64_t root_seed);
  bool built() const { return built_; }

  // Feature names, sorted: the order of Forward's inputs and outputs.
  const std::vector<std::string>& FeatureNames() const override { return feature_names_; }
  // E of each feature's table, in FeatureNames() order.
  std::vector<int64_t> OutputDims() const override;
  const std::vector<TableConfig>& tables() const { return tables_; }
  const std::vector<FeatureConfig>& features() const { return features_; }  // sorted by name

  // features: F inputs, features[i] for FeatureNames()[i], all with the same batch size B
  // -> *outputs: resized to F tensors, (*outputs)[i] is (B, E_i). Validates first (Validate).
  // With training, keeps a pointer to `features` for Backward: the caller keeps it alive and
  // unchanged until then.
  void Forward(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
               bool training) override;

  // As Forward(features, outputs, false); uses no scratch (scratch may be nullptr).
  void Predict(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
               InferenceScratch* scratch) const override;

  // Throws InvalidArgument saying what was expected and what arrived for: the wrong number of
  // features; offsets that are missing, not B+1 long (B from the first feature), not starting at
  // 0, decreasing or not ending at ids.size(); weights not empty or one per id; negative or
  // non-finite weights; an id outside [0, V) of the feature's table.
  void Validate(const std::vector<SparseFeature>& features) const;

  // d_outputs: F tensors, d_outputs[i] is (B, E_i), the gradient of the latest training Forward's
  // outputs. ACCUMULATES into each table's sparse_grad (merging with ids already there).
  // Throws InvalidArgument on shape mismatch or without a preceding training Forward.
  void Backward(const std::vector<Tensor>& d_outputs) override;

  // One per table, in table order; stable pointers valid for the collection's lifetime.
  std::vector<Variable*> Variables() override;

 private:
  // Per-table backward workspace, reused between steps (capacity only grows).
  struct TableWork {
    std::vector<int> features;         // indices into features_ of the features reading it
    std::vector<int64_t> ids;          // (n) ids of every lookup (old grad rows first)
    std::vector<float> coef;           // (n) pooling coefficients
    std::vector<const float*> d_rows;  // (n) output-gradient row of each lookup
    std::vector<int64_t> order;        // (n) lookups grouped by id
    std::vector<int64_t> scratch;      // (3n) GroupIds workspace
    std::vector<int64_t> unique;       // (U) swapped with sparse_grad.ids
    std::vector<int64_t> segments;     // (U + 1)
    Tensor rows;                       // (U, E) swapped with sparse_grad.rows
  };

  void RequireBuilt(const char* what) const;
  // Validates features and pools every feature into *outputs (F x (B, E_i)); returns B.
  int64_t Lookup(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs) const;
  // Backward's merge of table t's lookups into its sparse_grad (touches only table t's state).
  void BackwardTable(size_t t, const std::vector<SparseFeature>& inputs,
                     const std::vector<Tensor>& d_outputs);

  std::vector<TableConfig> tables_;
  std::vector<FeatureConfig> features_;
  std::vector<std::string> feature_names_;
  std::vector<int> feature_table_;   // table index of each feature
  std::vector<Variable> variables_;  // one per table, never resized after construction
  std::vector<TableWork> work_;
  bool built_ = false;
  bool draw_initial_rows_ = true;
  const std::vector<SparseFeature>* inputs_ = nullptr;  // latest training Forward's input
  int64_t batch_ = 0;
};

}  // namespace crank

#endif  // CRANK_LAYERS_EMBEDDING_COLLECTION_H_
