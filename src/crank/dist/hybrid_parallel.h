#ifndef CRANK_DIST_HYBRID_PARALLEL_H_
#define CRANK_DIST_HYBRID_PARALLEL_H_

// Hybrid-parallel training of one Ranking model over the ranks of a ProcessGroup: the dense
// blocks data-parallel (a replica on every rank, gradients summed every step), the embedding
// tables model-parallel (a DistributedEmbedding, dist/distributed_embedding.h).
//
// Global batch semantics: every rank is given the same global batch of B examples and trains
// on its slice, rows [B r / N, B (r + 1) / N) (SliceRange). The task loss is a mean over the
// batch (sum_i w_i l_i / B_r on a slice), so the gradient of the global loss is the sum over
// ranks of B_r / B times the slice's gradient: the embedding layer scales the pooled-vector
// gradients by B_r / B before sending them to the tables' owners, and TrainStep scales the
// dense gradients by B_r / B before a deterministic all-reduce (dist/process_group.h), which
// carries the losses too. A step makes 6 MPI calls: the embedding's three all-to-alls (the ids'
// sizes and the ids, the pooled vectors, their gradients: sizes known to the receiver) and the
// all-reduce's reduce-scatter and all-gather. The
// update therefore equals one process's update on the global batch, up to the order of float
// additions. The L2 penalty's gradient is added once: by every replica to its dense gradients
// before the weighted sum (the weights sum to 1), and by the owner to its table rows.
//
// Every method except ScatterFrom is a collective: all ranks call it in the same order.
// Not thread-safe.

#include <cstdint>
#include <map>
#include <string>
#include <utility>

#include "crank/dist/distributed_embedding.h"
#include "crank/dist/process_group.h"
#include "crank/model/ranking.h"
#include "crank/optim/optimizer.h"

namespace crank {

// The rows [begin, end) of a global batch of `batch` examples that `rank` of `size` trains on;
// contiguous and in rank order, sizes differ by at most one (0 when batch < size).
std::pair<int64_t, int64_t> SliceRange(int64_t batch, int rank, int size);
// Rows [begin, end) of global (dense, sparse, labels, weights) -> *slice.
void SliceBatch(const Batch& global, int64_t begin, int64_t end, Batch* slice);

// The table index of an optimizer state named "<prefix>/embedding/<table>/<slot>", or -1 (a
// state of a dense variable).
int TableOfOptimizerState(const std::string& name, const std::vector<TableConfig>& tables);

class HybridParallel {
 public:
  // model's embedding layer is `embedding`; neither is owned; both outlive this object.
  HybridParallel(Ranking* model, DistributedEmbedding* embedding);

  // One optimizer step on this rank's slice of `global`; returns the global batch's losses
  // (the same on every rank). The update is skipped on every rank when the loss is not finite.
  StepResult TrainStep(const Batch& global);
  // The same step when every rank read only its own rows (its slice of the global batch,
  // `--input-sharding bytes` or the reader's batch slices): `slice` (null or empty: none this
  // step) is this rank's part of a global batch of the ranks' slices together, weighted by its
  // size. The global batch's size comes with the embedding exchange (last_global_batch()).
  StepResult TrainSliceStep(const Batch* slice);
  // The examples of the last training step's global batch, the same on every rank.
  int64_t last_global_batch() const { return last_global_batch_; }
  // The sum of `local` over the ranks (the global batch of ranks that read their own rows).
  int64_t GlobalBatchSize(int64_t local);
  // Evaluation of this rank's slice of `global` into the model's task metrics.
  void TestStep(const Batch& global);
  // The task metrics of every rank merged (exact AUC over all examples), the same on every
  // rank; the model's metrics are left as they were.
  std::map<std::string, double> MergedMetrics();
  // True on every rank when `local` is true on any.
  bool AnyRank(bool local);

  // Collects the model and optimizer state to rank 0: there, `full` (a Ranking with an
  // EmbeddingCollection of the same configuration) gets every variable, and `full_optimizer`
  // (built for `full`, may be null) its state and step count. Elsewhere both are ignored.
  void GatherTo(Ranking* full, Optimizer* full_optimizer);
  // The reverse, on each rank alone: copies this rank's part of `full` (and of
  // `full_optimizer`'s state into the model's optimizer, when both are given).
  void ScatterFrom(Ranking& full, Optimizer* full_optimizer);

  ProcessGroup& group() { return embedding_->group(); }
  Ranking& model() { return *model_; }
  DistributedEmbedding& embedding() { return *embedding_; }

 private:
  // An empty slice: takes part in the embedding exchanges with no examples.
  void EmptyForward(std::vector<Tensor>* outputs, bool training);

  Ranking* model_;
  DistributedEmbedding* embedding_;
  Batch slice_;
  std::vector<SparseFeature> empty_features_;
  std::vector<Tensor> scratch_;
  std::vector<float> flat_;
  int64_t last_global_batch_ = 0;
};

}  // namespace crank

#endif  // CRANK_DIST_HYBRID_PARALLEL_H_
