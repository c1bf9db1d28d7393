#include "crank/dist/distributed_embedding.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "crank/base/error.h"
#include "crank/kernels/embedding_bag.h"
#include "crank/kernels/embedding_precision.h"

namespace crank {
namespace {

template <typename T>
void Put(std::string* out, const T* data, size_t n) {
  out->append(reinterpret_cast<const char*>(data), sizeof(T) * n);
}
template <typename T>
void PutOne(std::string* out, T v) {
  Put(out, &v, 1);
}

// Reads consecutive values out of a received buffer; a short buffer is an internal error.
class Cursor {
 public:
  explicit Cursor(const std::string& s) : s_(s) {}
  template <typename T>
  const T* Take(size_t n) {
    CRANK_CHECK(pos_ + sizeof(T) * n <= s_.size(), "exchange buffer too short");
    const T* p = reinterpret_cast<const T*>(s_.data() + pos_);
    pos_ += sizeof(T) * n;
    return p;
  }
  template <typename T>
  T TakeOne() {
    T v;
    std::memcpy(&v, Take<T>(1), sizeof(T));
    return v;
  }
  bool done() const { return pos_ == s_.size(); }

 private:
  const std::string& s_;
  size_t pos_ = 0;
};

}  // namespace

struct DistributedEmbedding::Exchange {
  std::vector<int64_t> slice_sizes;     // B_r of every rank (owners' view), rank order
  std::vector<int64_t> slice_begin;     // first global bag of every rank
  std::vector<SparseFeature> local_in;  // local features: the global batch's bags
  std::vector<Tensor> local_out;        // (B, E) per local feature
  std::vector<Tensor> local_d;          // (B, E) per local feature, backward
  std::vector<std::string> send, recv;  // reused buffers
  int64_t batch = 0;                    // this rank's B_r
  std::vector<float> coef;
};

DistributedEmbedding::DistributedEmbedding(std::vector<TableConfig> tables,
                                           std::vector<FeatureConfig> features, Placement placement,
                                           ProcessGroup* group)
    : spec_(std::move(tables), std::move(features)),
      placement_(std::move(placement)),
      group_(group) {
  CRANK_REQUIRE(group_ != nullptr, "DistributedEmbedding needs a process group");
  CRANK_REQUIRE(
      placement_.world_size == group_->size() && placement_.shards.size() == spec_.tables().size(),
      "DistributedEmbedding: the placement is for {} ranks and {} tables, the job has "
      "{} ranks and {} tables",
      placement_.world_size, placement_.shards.size(), group_->size(), spec_.tables().size());
  const auto& tabs = spec_.tables();
  const int me = group_->rank();
  // Local tables: this rank's shard of every table, in table order, under the table's name.
  std::vector<TableConfig> local_tables;
  for (size_t t = 0; t < tabs.size(); ++t) {
    const int s = placement_.ShardOf(t, me);
    if (s < 0) continue;
    TableConfig c = tabs[t];
    c.vocabulary_size = placement_.shards[t][s].rows();
    local_tables.push_back(c);
  }
  // Routes in (feature, shard) order; local features in feature order (already sorted by name).
  std::vector<FeatureConfig> local_features;
  for (size_t f = 0; f < spec_.features().size(); ++f) {
    const FeatureConfig& fc = spec_.features()[f];
    size_t t = 0;
    while (tabs[t].name != fc.table) ++t;
    feature_table_.push_back(static_cast<int>(t));
    for (size_t s = 0; s < placement_.shards[t].size(); ++s) {
      Route r;
      r.feature = f;
      r.table = t;
      r.shard = s;
      r.owner = placement_.shards[t][s].rank;
      CRANK_REQUIRE(r.owner >= 0 && r.owner < group_->size(),
                    "DistributedEmbedding: table '{}' shard {} is placed on rank {} of {}",
                    tabs[t].name, s, r.owner, group_->size());
      if (r.owner == me) {
        r.local = static_cast<int>(local_features.size());
        FeatureConfig lf = fc;
        // A split table pools sums of coefficient-weighted rows (see the header).
        if (placement_.shards[t].size() > 1) lf.pooling = Pooling::kSum;
        local_features.push_back(lf);
      }
      routes_.push_back(r);
    }
  }
  has_local_features_ = !local_features.empty();
  local_ =
      std::make_unique<EmbeddingCollection>(std::move(local_tables), std::move(local_features));
  train_ = std::make_unique<Exchange>();
  predict_ = std::make_unique<Exchange>();
}

DistributedEmbedding::~DistributedEmbedding() = default;

void DistributedEmbedding::Build(Rng& rng) {
  // The same draws as one process (EmbeddingCollection::Build), for this rank's rows only; a
  // 16-bit shard rounds them to nearest as the whole 16-bit table does, and keys its stochastic
  // rounding by the whole table's seed and row indices.
  const uint64_t root_seed = rng.NextU64();
  Rng unused(0);
  local_->SkipInitialDraw();
  local_->Build(unused);
  std::vector<float> rows;
  for (const LocalShard& s : LocalShards()) {
    const TableConfig& c = spec_.tables()[s.table];
    Variable& v = *s.variable;
    v.row_offset = s.row_begin;
    if (!v.is16()) {
      EmbeddingCollection::InitialRows(c, s.table, root_seed, s.row_begin, s.row_end,
                                       v.value.data());
      continue;
    }
    v.rounding_seed = EmbeddingCollection::RoundingSeed(s.table, root_seed);
    rows.resize(static_cast<size_t>((s.row_end - s.row_begin) * c.dim));
    EmbeddingCollection::InitialRows(c, s.table, root_seed, s.row_begin, s.row_end, rows.data());
    NarrowRowNearest(v.precision, rows.data(), static_cast<int64_t>(rows.size()), v.value16.data());
  }
  built_ = true;
}

void DistributedEmbedding::CopyShardsFrom(const std::vector<Variable*>& full_tables) {
  CRANK_REQUIRE(full_tables.size() == spec_.tables().size(),
                "CopyShardsFrom: expected {} tables, got {}", spec_.tables().size(),
                full_tables.size());
  for (const LocalShard& s : LocalShards()) {
    const Variable& src = *full_tables[s.table];
    Variable& dst = *s.variable;
    CRANK_REQUIRE(src.shape().size() == 2 &&
                      src.shape()[0] == spec_.tables()[s.table].vocabulary_size &&
                      src.shape()[1] == dst.shape()[1],
                  "CopyShardsFrom: table '{}' has shape {}", spec_.tables()[s.table].name,
                  ShapeToString(src.shape()));
    // In the shard's precision (converted when the full table has another).
    ConvertValues(src.precision, src.StoredRow(s.row_begin), dst.precision, dst.StoredRow(0),
                  dst.size());
  }
}

std::vector<DistributedEmbedding::LocalShard> DistributedEmbedding::LocalShards() {
  std::vector<LocalShard> out;
  std::vector<Variable*> vars = local_->Variables();
  size_t i = 0;
  for (size_t t = 0; t < spec_.tables().size(); ++t) {
    const int s = placement_.ShardOf(t, group_->rank());
    if (s < 0) continue;
    LocalShard ls;
    ls.table = t;
    ls.row_begin = placement_.shards[t][s].row_begin;
    ls.row_end = placement_.shards[t][s].row_end;
    ls.variable = vars[i++];
    out.push_back(ls);
  }
  return out;
}

const std::vector<std::string>& DistributedEmbedding::FeatureNames() const {
  return spec_.FeatureNames();
}

std::vector<int64_t> DistributedEmbedding::OutputDims() const { return spec_.OutputDims(); }

std::vector<Variable*> DistributedEmbedding::Variables() { return local_->Variables(); }

void DistributedEmbedding::RequireBuilt(const char* what) const {
  CRANK_REQUIRE(built_, "DistributedEmbedding::{} called before Build", what);
}

void DistributedEmbedding::RunForward(const std::vector<SparseFeature>& features,
                                      std::vector<Tensor>* outputs, bool training,
                                      Exchange* ex) const {
  // An empty slice (B_r = 0) may come without offsets.
  spec_.Validate(features);
  const int n = group_->size();
  const auto& tabs = spec_.tables();
  const size_t nf = features.size();
  const int64_t b = nf == 0 ? 0 : features[0].batch_size();
  ex->batch = b;
  if (nf == 0) {
    outputs->clear();
    return;
  }
  // 1. To every rank B_r, then the bags of each route it owns: [nnz, has_weights, offsets, ids,
  //    weights]. Every rank thus learns every slice size.
  ex->send.assign(n, std::string());
  for (std::string& out : ex->send) PutOne<int64_t>(&out, b);
  std::vector<int64_t> offsets, ids;
  std::vector<float> weights;
  for (const Route& r : routes_) {
    const SparseFeature& f = features[r.feature];
    std::string& out = ex->send[r.owner];
    const TableShard& sh = placement_.shards[r.table][r.shard];
    if (placement_.shards[r.table].size() == 1) {
      PutOne<int64_t>(&out, static_cast<int64_t>(f.ids.size()));
      PutOne<int64_t>(&out, f.weights.empty() ? 0 : 1);
      Put(&out, f.offsets.data(), f.offsets.size());
      Put(&out, f.ids.data(), f.ids.size());
      Put(&out, f.weights.data(), f.weights.size());
      continue;
    }
    ex->coef.resize(f.ids.size());
    EmbeddingBagCoefficients(f.offsets.data(), f.weights.empty() ? nullptr : f.weights.data(), b,
                             spec_.features()[r.feature].pooling, ex->coef.data());
    offsets.assign(1, 0);
    ids.clear();
    weights.clear();
    for (int64_t e = 0; e < b; ++e) {
      for (int64_t k = f.offsets[e]; k < f.offsets[e + 1]; ++k) {
        const int64_t id = f.ids[k];
        if (id < sh.row_begin || id >= sh.row_end) continue;
        ids.push_back(id - sh.row_begin);
        weights.push_back(ex->coef[k]);
      }
      offsets.push_back(static_cast<int64_t>(ids.size()));
    }
    PutOne<int64_t>(&out, static_cast<int64_t>(ids.size()));
    PutOne<int64_t>(&out, 1);
    Put(&out, offsets.data(), offsets.size());
    Put(&out, ids.data(), ids.size());
    Put(&out, weights.data(), weights.size());
  }
  group_->AllToAllV(ex->send, &ex->recv);

  // 2. Owner: the global batch's bags of each local feature, in rank order.
  const size_t nlocal = local_->FeatureNames().size();
  ex->local_in.assign(nlocal, SparseFeature());
  for (auto& lf : ex->local_in) lf.offsets.assign(1, 0);
  ex->slice_sizes.assign(n, 0);
  ex->slice_begin.assign(n, 0);
  std::vector<bool> has_weights(nlocal, false);
  for (int src = 0; src < n; ++src) {
    Cursor c(ex->recv[src]);
    const int64_t bs = c.TakeOne<int64_t>();
    ex->slice_sizes[src] = bs;
    for (const Route& r : routes_) {
      if (r.owner != group_->rank()) continue;
      const int64_t nnz = c.TakeOne<int64_t>();
      const bool hw = c.TakeOne<int64_t>() != 0;
      const int64_t* off = c.Take<int64_t>(static_cast<size_t>(bs + 1));
      const int64_t* id = c.Take<int64_t>(static_cast<size_t>(nnz));
      const float* w = hw ? c.Take<float>(static_cast<size_t>(nnz)) : nullptr;
      SparseFeature& lf = ex->local_in[r.local];
      const int64_t base = static_cast<int64_t>(lf.ids.size());
      for (int64_t e = 1; e <= bs; ++e) lf.offsets.push_back(base + off[e]);
      lf.ids.insert(lf.ids.end(), id, id + nnz);
      if (hw && !has_weights[r.local]) {  // earlier ranks' ids weigh 1
        lf.weights.assign(static_cast<size_t>(base), 1.0f);
        has_weights[r.local] = true;
      }
      if (has_weights[r.local]) {
        if (hw) {
          lf.weights.insert(lf.weights.end(), w, w + nnz);
        } else {
          lf.weights.insert(lf.weights.end(), static_cast<size_t>(nnz), 1.0f);
        }
      }
    }
    CRANK_CHECK(c.done(), "forward exchange: unread bytes from rank {}", src);
  }
  for (int src = 1; src < n; ++src) {
    ex->slice_begin[src] = ex->slice_begin[src - 1] + ex->slice_sizes[src - 1];
  }
  if (has_local_features_) {
    if (training) {
      local_->Forward(ex->local_in, &ex->local_out, /*training=*/true);
    } else {
      local_->Predict(ex->local_in, &ex->local_out, nullptr);
    }
  }

  // 3. Each rank's rows of the pooled vectors back to it; this rank receives B_r rows of each
  //    route from its owner.
  ex->send.assign(n, std::string());
  std::vector<int64_t> recv_bytes(n, 0);
  for (const Route& r : routes_) {
    recv_bytes[r.owner] += static_cast<int64_t>(sizeof(float)) * b * tabs[r.table].dim;
  }
  for (int dst = 0; dst < n; ++dst) {
    for (const Route& r : routes_) {
      if (r.owner != group_->rank()) continue;
      const Tensor& pooled = ex->local_out[r.local];
      if (ex->slice_sizes[dst] == 0) continue;
      Put(&ex->send[dst], pooled.row(ex->slice_begin[dst]),
          static_cast<size_t>(ex->slice_sizes[dst] * pooled.dim(1)));
    }
  }
  group_->AllToAllV(ex->send, recv_bytes, &ex->recv);

  // 4. Requester: the shards' partial sums, in shard order.
  outputs->resize(nf);
  for (size_t f = 0; f < nf; ++f) {
    (*outputs)[f].ResizeZero({b, tabs[feature_table_[f]].dim});
  }
  std::vector<Cursor> from;
  from.reserve(n);
  for (int src = 0; src < n; ++src) from.emplace_back(ex->recv[src]);
  for (const Route& r : routes_) {
    Tensor& out = (*outputs)[r.feature];
    if (b == 0) continue;
    const float* rows = from[r.owner].Take<float>(static_cast<size_t>(out.size()));
    if (placement_.shards[r.table].size() == 1) {
      std::memcpy(out.data(), rows, sizeof(float) * out.size());
    } else {
      float* o = out.data();
      for (int64_t i = 0; i < out.size(); ++i) o[i] += rows[i];
    }
  }
  for (int src = 0; src < n; ++src) {
    CRANK_CHECK(from[src].done(), "forward exchange: unread pooled rows from rank {}", src);
  }
}

int64_t DistributedEmbedding::global_batch() const {
  CRANK_REQUIRE(has_training_forward_,
                "DistributedEmbedding::global_batch needs a training Forward");
  int64_t total = 0;
  for (const int64_t s : train_->slice_sizes) total += s;
  return total;
}

void DistributedEmbedding::Forward(const std::vector<SparseFeature>& features,
                                   std::vector<Tensor>* outputs, bool training) {
  RequireBuilt("Forward");
  RunForward(features, outputs, training, training ? train_.get() : predict_.get());
  if (training) train_->local_d.clear();
  has_training_forward_ = training;
}

void DistributedEmbedding::Predict(const std::vector<SparseFeature>& features,
                                   std::vector<Tensor>* outputs, InferenceScratch* scratch) const {
  RequireBuilt("Predict");
  RunForward(features, outputs, /*training=*/false, predict_.get());
}

void DistributedEmbedding::Backward(const std::vector<Tensor>& d_outputs) {
  CRANK_REQUIRE(has_training_forward_,
                "DistributedEmbedding::Backward needs a preceding training Forward");
  const auto& tabs = spec_.tables();
  const size_t nf = spec_.features().size();
  CRANK_REQUIRE(d_outputs.size() == nf, "embedding backward: expected {} gradients, got {}", nf,
                d_outputs.size());
  Exchange* ex = train_.get();
  const int64_t b = ex->batch;
  for (size_t f = 0; f < nf; ++f) {
    const int64_t e = tabs[feature_table_[f]].dim;
    CRANK_REQUIRE(d_outputs[f].size() == b * e,
                  "embedding backward, feature '{}': expected a ({}, {}) gradient, got {}",
                  spec_.FeatureNames()[f], b, e, d_outputs[f].ShapeString());
  }
  if (nf == 0) return;
  const int n = group_->size();
  const int64_t total = ex->slice_begin[n - 1] + ex->slice_sizes[n - 1];
  // B_r / B: the sum over ranks of slice-mean gradients is the global batch's.
  const float scale =
      total > 0 ? static_cast<float>(static_cast<double>(b) / static_cast<double>(total)) : 0.0f;
  ex->send.assign(n, std::string());
  std::vector<float> scaled;
  for (const Route& r : routes_) {
    const Tensor& d = d_outputs[r.feature];
    scaled.resize(static_cast<size_t>(d.size()));
    for (int64_t i = 0; i < d.size(); ++i) scaled[i] = d.data()[i] * scale;
    Put(&ex->send[r.owner], scaled.data(), scaled.size());
  }
  // From every rank, its B_r rows of each route this rank owns.
  std::vector<int64_t> recv_bytes(n, 0);
  for (const Route& r : routes_) {
    if (r.owner != group_->rank()) continue;
    for (int src = 0; src < n; ++src) {
      recv_bytes[src] +=
          static_cast<int64_t>(sizeof(float)) * ex->slice_sizes[src] * tabs[r.table].dim;
    }
  }
  group_->AllToAllV(ex->send, recv_bytes, &ex->recv);
  if (!has_local_features_) return;
  ex->local_d.resize(ex->local_in.size());
  for (const Route& r : routes_) {
    if (r.owner != group_->rank()) continue;
    ex->local_d[r.local].Resize({total, tabs[r.table].dim});
  }
  for (int src = 0; src < n; ++src) {
    Cursor c(ex->recv[src]);
    for (const Route& r : routes_) {
      if (r.owner != group_->rank()) continue;
      Tensor& d = ex->local_d[r.local];
      const size_t count = static_cast<size_t>(ex->slice_sizes[src] * d.dim(1));
      const float* rows = c.Take<float>(count);
      if (count > 0) std::memcpy(d.row(ex->slice_begin[src]), rows, sizeof(float) * count);
    }
    CRANK_CHECK(c.done(), "backward exchange: unread gradient rows from rank {}", src);
  }
  local_->Backward(ex->local_d);
}

}  // namespace crank
