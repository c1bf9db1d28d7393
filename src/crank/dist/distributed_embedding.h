#ifndef CRANK_DIST_DISTRIBUTED_EMBEDDING_H_
#define CRANK_DIST_DISTRIBUTED_EMBEDDING_H_

// The EmbeddingLayer (layers/embedding_layer.h) of hybrid-parallel training: the tables of an
// EmbeddingCollection placed over the ranks of a ProcessGroup by a Placement (dist/placement.h),
// each rank holding its tables (or row ranges of them) in a local EmbeddingCollection, so the
// Ranking model and the optimizers see an ordinary embedding layer.
//
// Every rank passes its slice of the global batch (B_r examples, B = sum of B_r) and gets the
// pooled vectors of its slice, as the single-process layer would give them:
//
//   Forward   requester: for each feature and each shard of its table, the slice's bags
//             restricted to the shard's rows (ids made shard-local) -> the shard's owner
//             (AllToAllV; every rank also sends its B_r to every rank, so all know B). Owner:
//             the bags of every rank, concatenated in rank order (so its
//             B bags are the global batch), pooled by its local collection; the rows of each
//             rank's bags go back (AllToAllV). Requester: the shards' partial sums, added in
//             shard order -> (B_r, E_i).
//   Backward  requester: d_outputs (B_r, E_i) x B_r / B -> the owners (AllToAllV);
//             owner: the global (B, E_i) gradient through its local collection's Backward,
//             merged into its shards' row-sparse gradients. Owners then update their rows with
//             their own optimizer state.
//
// A table held whole by one rank is pooled with the feature's own pooling on the owner, which
// sees the same bags as one process would: the pooled vectors are the same bits. A table split
// over ranks is pooled as a sum with the per-id coefficients w_k * s_b of the feature's pooling
// (kernels/embedding_bag.h) computed by the requester, and the partial sums are added, which
// reorders the float additions (last-bit differences).
//
// Forward, Backward and Predict are collectives: every rank calls each in the same order with
// its slice (B_r may be 0). Predict is const for the interface, but it exchanges through
// buffers of the layer: one thread, not concurrently with anything else on the layer.
// Input errors (ids outside a table, malformed offsets) are checked on the requester before any
// exchange and throw InvalidArgument there.
//
// Tables stored in 16 bits (TableConfig::precision bf16 or fp16) are sharded the same way: each
// shard is a 16-bit Variable (value16) pooled through the local collection's 16-bit lookup. Its
// Variable::rounding_seed is the whole table's (EmbeddingCollection::RoundingSeed) and its
// Variable::row_offset its first row, so the optimizers' stochastic rounding of a row
// (UpdateTableRow, keyed by seed, step, row of the whole table and element) does not depend on
// how the table is split: a row gets the same random bits on any number of ranks.
//
// Lifecycle: construct, Build(rng) once (draws this rank's rows from rng exactly as
// EmbeddingCollection::Build draws them, through EmbeddingCollection::InitialRows, without
// materialising the other rows, and rounds them to nearest into a 16-bit shard as the 16-bit
// table does), then Forward/Backward pairs.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "crank/dist/placement.h"
#include "crank/dist/process_group.h"
#include "crank/layers/embedding_collection.h"
#include "crank/layers/embedding_layer.h"

namespace crank {

class DistributedEmbedding : public EmbeddingLayer {
 public:
  // The tables and features of an EmbeddingCollection (same validation), placed by
  // `placement` (one entry per table, in table order, world_size == group->size()). The group
  // is not owned and outlives the layer.
  DistributedEmbedding(std::vector<TableConfig> tables, std::vector<FeatureConfig> features,
                       Placement placement, ProcessGroup* group);
  ~DistributedEmbedding() override;

  void Build(Rng& rng) override;
  const std::vector<std::string>& FeatureNames() const override;
  std::vector<int64_t> OutputDims() const override;
  void Forward(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
               bool training) override;
  void Backward(const std::vector<Tensor>& d_outputs) override;
  void Predict(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
               InferenceScratch* scratch) const override;
  // This rank's tables and shards, named "embedding/<table name>" as in EmbeddingCollection
  // (a shard holds its rows only: (row_end - row_begin, E), in the table's precision).
  std::vector<Variable*> Variables() override;

  // B, the sum of every rank's B_r in the last training Forward (each rank sends its B_r to
  // every other in the forward exchange). Backward multiplies the output gradients by B_r / B
  // before sending them, which makes the sum over ranks of slice-mean gradients the gradient of
  // the global-batch mean (0 when B is 0).
  int64_t global_batch() const;

  // A shard this rank holds: rows [row_begin, row_end) of table `table`.
  struct LocalShard {
    size_t table = 0;
    int64_t row_begin = 0;
    int64_t row_end = 0;
    Variable* variable = nullptr;
  };
  std::vector<LocalShard> LocalShards();

  // Copies this rank's rows out of the whole tables (one per table, in table order, (V, E)),
  // converted to the shard's precision when the whole table has another.
  void CopyShardsFrom(const std::vector<Variable*>& full_tables);

  const std::vector<TableConfig>& tables() const { return spec_.tables(); }
  const Placement& placement() const { return placement_; }
  ProcessGroup& group() const { return *group_; }

 private:
  // One (feature, shard of its table) pair: the unit of the exchange. Routes are ordered by
  // feature then shard; every rank derives the same list.
  struct Route {
    size_t feature = 0;  // index in FeatureNames()
    size_t table = 0;
    size_t shard = 0;
    int owner = 0;
    int local = -1;  // on the owner: its feature index in the local collection
  };
  struct Exchange;  // buffers of one forward exchange

  void RequireBuilt(const char* what) const;
  // The forward exchange: validates, sends the bags, pools on the owners (local Forward with
  // training, else Predict), returns the pooled rows. Fills ex.
  void RunForward(const std::vector<SparseFeature>& features, std::vector<Tensor>* outputs,
                  bool training, Exchange* ex) const;

  EmbeddingCollection spec_;  // the whole configuration, never built: validation and names
  Placement placement_;
  ProcessGroup* group_;
  std::vector<Route> routes_;
  std::vector<int> feature_table_;
  std::unique_ptr<EmbeddingCollection> local_;  // this rank's tables and shards
  bool has_local_features_ = false;
  bool built_ = false;
  bool has_training_forward_ = false;
  std::unique_ptr<Exchange> train_;  // kept from the training Forward for Backward
  mutable std::unique_ptr<Exchange> predict_;
};

}  // namespace crank

#endif  // CRANK_DIST_DISTRIBUTED_EMBEDDING_H_
