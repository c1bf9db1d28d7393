#include "crank/dist/hybrid_parallel.h"

#include <fmt/format.h>

#include <cmath>
#include <cstring>
#include <map>

#include "crank/base/error.h"
#include "crank/metrics/metric_set.h"

namespace crank {
namespace {

// Rows [begin, end) of a (B) or (B, k) tensor; an empty tensor stays empty.
void SliceRows(const Tensor& in, int64_t begin, int64_t end, Tensor* out) {
  if (in.empty() && in.rank() < 2) {
    *out = Tensor();
    return;
  }
  std::vector<int64_t> shape = in.shape();
  const int64_t b = shape[0];
  const int64_t per_row = b > 0 ? in.size() / b : 0;
  shape[0] = end - begin;
  out->Resize(shape);
  if (out->size() > 0) {
    std::memcpy(out->data(), in.data() + begin * per_row, sizeof(float) * out->size());
  }
}

template <typename T>
void Put(std::string* out, const T* data, size_t n) {
  out->append(reinterpret_cast<const char*>(data), sizeof(T) * n);
}

template <typename T>
T Take(std::string_view* in) {
  CRANK_CHECK(in->size() >= sizeof(T), "model gather: buffer too short");
  T v;
  std::memcpy(&v, in->data(), sizeof(T));
  in->remove_prefix(sizeof(T));
  return v;
}

void PutTensor(std::string* out, const std::string& name, const Tensor& t) {
  const int64_t len = static_cast<int64_t>(name.size()), rank = t.rank();
  Put(out, &len, 1);
  out->append(name);
  Put(out, &rank, 1);
  Put(out, t.shape().data(), t.shape().size());
  Put(out, t.data(), static_cast<size_t>(t.size()));
}

void TakeTensor(std::string_view* in, std::string* name, Tensor* t) {
  const int64_t len = Take<int64_t>(in);
  CRANK_CHECK(static_cast<int64_t>(in->size()) >= len, "model gather: buffer too short");
  name->assign(in->data(), static_cast<size_t>(len));
  in->remove_prefix(static_cast<size_t>(len));
  const int64_t rank = Take<int64_t>(in);
  std::vector<int64_t> shape(static_cast<size_t>(rank));
  for (int64_t& d : shape) d = Take<int64_t>(in);
  t->Resize(shape);
  const size_t bytes = sizeof(float) * static_cast<size_t>(t->size());
  CRANK_CHECK(in->size() >= bytes, "model gather: buffer too short");
  if (bytes > 0) std::memcpy(t->data(), in->data(), bytes);
  in->remove_prefix(bytes);
}

// Copies rows [begin, begin + dst.dim(0)) of src into dst (dst's rows < src's), or the whole
// tensor when the shapes are equal.
void CopyRowsOut(const Tensor& src, int64_t begin, Tensor* dst, const std::string& what) {
  if (src.shape() == dst->shape()) {
    std::memcpy(dst->data(), src.data(), sizeof(float) * src.size());
    return;
  }
  CRANK_REQUIRE(src.rank() >= 1 && dst->rank() == src.rank() && src.dim(0) >= begin + dst->dim(0),
                "{}: cannot take rows [{}, +{}) of a {} tensor", what, begin, dst->dim(0),
                src.ShapeString());
  const int64_t per_row = src.dim(0) > 0 ? src.size() / src.dim(0) : 0;
  std::memcpy(dst->data(), src.data() + begin * per_row, sizeof(float) * dst->size());
}

}  // namespace

int TableOfOptimizerState(const std::string& name, const std::vector<TableConfig>& tables) {
  int best = -1;
  size_t best_len = 0;
  for (size_t t = 0; t < tables.size(); ++t) {
    const std::string key = "embedding/" + tables[t].name + "/";
    const size_t at = name.find(key);
    if (at == std::string::npos || (at > 0 && name[at - 1] != '/')) continue;
    if (key.size() > best_len) {
      best = static_cast<int>(t);
      best_len = key.size();
    }
  }
  return best;
}

std::pair<int64_t, int64_t> SliceRange(int64_t batch, int rank, int size) {
  return {batch * rank / size, batch * (rank + 1) / size};
}

void SliceBatch(const Batch& global, int64_t begin, int64_t end, Batch* slice) {
  SliceRows(global.dense, begin, end, &slice->dense);
  if (global.dense.rank() == 2 && slice->dense.rank() != 2) slice->dense.Resize({0, 0});
  SliceRows(global.labels, begin, end, &slice->labels);
  SliceRows(global.weights, begin, end, &slice->weights);
  slice->sparse.resize(global.sparse.size());
  for (size_t f = 0; f < global.sparse.size(); ++f) {
    const SparseFeature& g = global.sparse[f];
    SparseFeature& s = slice->sparse[f];
    const int64_t lo = g.offsets[begin], hi = g.offsets[end];
    s.offsets.resize(static_cast<size_t>(end - begin + 1));
    for (int64_t i = begin; i <= end; ++i) s.offsets[i - begin] = g.offsets[i] - lo;
    s.ids.assign(g.ids.begin() + lo, g.ids.begin() + hi);
    if (g.weights.empty()) {
      s.weights.clear();
    } else {
      s.weights.assign(g.weights.begin() + lo, g.weights.begin() + hi);
    }
  }
}

HybridParallel::HybridParallel(Ranking* model, DistributedEmbedding* embedding)
    : model_(model), embedding_(embedding) {
  CRANK_REQUIRE(model_ != nullptr && embedding_ != nullptr &&
                    &model_->embedding() == static_cast<EmbeddingLayer*>(embedding_),
                "HybridParallel: the model's embedding layer must be the distributed one");
  empty_features_.resize(embedding_->FeatureNames().size());
  for (SparseFeature& f : empty_features_) f.Clear();
}

void HybridParallel::EmptyForward(std::vector<Tensor>* outputs, bool training) {
  if (training) {
    embedding_->Forward(empty_features_, outputs, true);
  } else {
    embedding_->Predict(empty_features_, outputs, nullptr);
  }
}

StepResult HybridParallel::TrainStep(const Batch& global) {
  ProcessGroup& g = group();
  const auto [begin, end] = SliceRange(global.size(), g.rank(), g.size());
  if (end > begin) SliceBatch(global, begin, end, &slice_);
  return TrainSliceStep(end > begin ? &slice_ : nullptr);
}

int64_t HybridParallel::GlobalBatchSize(int64_t local) {
  double v = static_cast<double>(local);  // exact below 2^53 examples
  AllReduceSum(group(), &v, 1);
  return static_cast<int64_t>(v);
}

StepResult HybridParallel::TrainSliceStep(const Batch* slice) {
  Optimizer* optimizer = model_->optimizer();
  CRANK_REQUIRE(optimizer != nullptr, "TrainStep needs an optimizer: call SetOptimizer first");
  ProcessGroup& g = group();
  const int64_t mine = slice != nullptr ? slice->size() : 0;
  StepResult local;
  if (mine > 0) {
    local = model_->ComputeGradients(*slice);
  } else {  // no examples here: exchange nothing, add the penalties' gradients
    model_->ZeroGrad();
    EmptyForward(&scratch_, /*training=*/true);
    for (Tensor& t : scratch_) t.ResizeZero(t.shape());
    embedding_->Backward(scratch_);
    local.regularization_loss = model_->ApplyRegularization();
  }
  // The global batch: every rank's B_r came with the forward exchange.
  last_global_batch_ =
      embedding_->FeatureNames().empty() ? GlobalBatchSize(mine) : embedding_->global_batch();
  const double share = last_global_batch_ > 0
                           ? static_cast<double>(mine) / static_cast<double>(last_global_batch_)
                           : 0.0;
  // The penalty of this rank's table rows (the dense penalty is the same on every replica).
  double sparse_penalty = 0.0;
  std::vector<float> w;  // a row, widened when the table is 16-bit
  for (Variable* v : model_->EmbeddingTrainableVariables()) {
    if (v->l2 == 0.0f) continue;
    const int64_t e = v->shape()[1];
    w.resize(static_cast<size_t>(e));
    double s = 0.0;
    for (int64_t id : v->sparse_grad.ids) {
      v->ReadRow(id, w.data());
      for (int64_t j = 0; j < e; ++j) s += double(w[j]) * w[j];
    }
    sparse_penalty += v->l2 * s;
  }
  // Dense gradients (sum over ranks of share x slice gradient) and the losses: one
  // deterministic all-reduce.
  const std::vector<Variable*> dense = model_->DenseTrainableVariables();
  int64_t total = 0;
  for (const Variable* v : dense) total += v->grad.size();
  flat_.resize(static_cast<size_t>(total));
  int64_t at = 0;
  const float s = static_cast<float>(share);
  for (const Variable* v : dense) {
    for (int64_t i = 0; i < v->grad.size(); ++i) flat_[at + i] = v->grad.data()[i] * s;
    at += v->grad.size();
  }
  double losses[2] = {share * local.loss, sparse_penalty};
  AllReduceSum(g, flat_.data(), total, losses, 2);
  at = 0;
  for (Variable* v : dense) {
    std::memcpy(v->grad.data(), flat_.data() + at, sizeof(float) * v->grad.size());
    at += v->grad.size();
  }
  StepResult r;
  r.loss = losses[0];
  r.regularization_loss = (local.regularization_loss - sparse_penalty) + losses[1];
  r.total_loss = r.loss + r.regularization_loss;
  if (last_global_batch_ > 0 && std::isfinite(r.total_loss)) {
    optimizer->Apply(model_->TrainableVariables());
  }
  return r;
}

void HybridParallel::TestStep(const Batch& global) {
  ProcessGroup& g = group();
  const auto [begin, end] = SliceRange(global.size(), g.rank(), g.size());
  if (end > begin) {
    SliceBatch(global, begin, end, &slice_);
    model_->TestStep(slice_);
  } else {
    EmptyForward(&scratch_, /*training=*/false);
  }
}

std::map<std::string, double> HybridParallel::MergedMetrics() {
  std::vector<std::string> all;
  group().AllGatherV(model_->task().metric_set().Serialize(), &all);
  MetricSet merged = MetricSet::Deserialize(all[0]);
  for (size_t r = 1; r < all.size(); ++r) merged.Merge(MetricSet::Deserialize(all[r]));
  return merged.Results();
}

bool HybridParallel::AnyRank(bool local) {
  double v = local ? 1.0 : 0.0;
  AllReduceSum(group(), &v, 1);
  return v > 0.0;
}

void HybridParallel::GatherTo(Ranking* full, Optimizer* full_optimizer) {
  ProcessGroup& g = group();
  const auto& tables = embedding_->tables();
  // This rank's shards and the optimizer state of its tables.
  std::string mine;
  const auto shards = embedding_->LocalShards();
  const int64_t n_shards = static_cast<int64_t>(shards.size());
  Put(&mine, &n_shards, 1);
  for (const auto& s : shards) {
    const int64_t head[3] = {static_cast<int64_t>(s.table), s.row_begin, s.row_end};
    Put(&mine, head, 3);
    const Variable& v = *s.variable;
    if (!v.is16()) {
      PutTensor(&mine, v.name, v.value);
      continue;
    }
    Tensor widened(v.shape());  // exact; rank 0 narrows it back
    WidenRow(v.precision, v.value16.data(), v.size(), widened.data());
    PutTensor(&mine, v.name, widened);
  }
  std::vector<std::pair<std::string, Tensor*>> state;
  if (model_->optimizer() != nullptr) state = model_->optimizer()->StateTensors();
  std::string slots;
  int64_t n_slots = 0;
  for (const auto& [name, t] : state) {
    if (TableOfOptimizerState(name, tables) < 0) continue;
    const int t_index = TableOfOptimizerState(name, tables);
    const int64_t shard = embedding_->placement().ShardOf(t_index, g.rank());
    Put(&slots, &shard, 1);
    PutTensor(&slots, name, *t);
    ++n_slots;
  }
  Put(&mine, &n_slots, 1);
  mine += slots;
  std::vector<std::string> all;
  g.GatherV(mine, 0, &all);
  if (g.rank() != 0) return;

  CRANK_REQUIRE(full != nullptr, "GatherTo: rank 0 needs a model to gather into");
  // Dense variables: this replica's.
  const std::vector<Variable*> dense = model_->DenseTrainableVariables();
  const std::vector<Variable*> full_dense = full->DenseTrainableVariables();
  CRANK_REQUIRE(dense.size() == full_dense.size(), "GatherTo: {} dense variables, expected {}",
                full_dense.size(), dense.size());
  for (size_t i = 0; i < dense.size(); ++i) {
    CRANK_REQUIRE(dense[i]->name == full_dense[i]->name &&
                      dense[i]->value.shape() == full_dense[i]->value.shape(),
                  "GatherTo: variable {} does not match {}", full_dense[i]->name, dense[i]->name);
    full_dense[i]->value = dense[i]->value;
  }
  const std::vector<Variable*> full_tables = full->EmbeddingTrainableVariables();
  CRANK_REQUIRE(full_tables.size() == tables.size(), "GatherTo: {} tables, expected {}",
                full_tables.size(), tables.size());
  // Embedding slots by name: (shard index, tensor) from every holder.
  std::map<std::string, std::vector<std::pair<int64_t, Tensor>>> gathered_slots;
  for (int r = 0; r < g.size(); ++r) {
    std::string_view in(all[r]);
    const int64_t n = Take<int64_t>(&in);
    for (int64_t i = 0; i < n; ++i) {
      const int64_t table = Take<int64_t>(&in), row_begin = Take<int64_t>(&in);
      Take<int64_t>(&in);  // row_end: the tensor's rows say it
      std::string name;
      Tensor value;
      TakeTensor(&in, &name, &value);
      Variable& dst = *full_tables[table];
      CRANK_REQUIRE(value.rank() == 2 && value.dim(1) == dst.shape()[1] &&
                        row_begin + value.dim(0) <= dst.shape()[0],
                    "GatherTo: shard of {} has shape {}", name, value.ShapeString());
      ConvertValues(EmbeddingPrecision::kFp32, value.data(), dst.precision,
                    dst.StoredRow(row_begin), value.size());
    }
    const int64_t ns = Take<int64_t>(&in);
    for (int64_t i = 0; i < ns; ++i) {
      const int64_t shard = Take<int64_t>(&in);
      std::string name;
      Tensor t;
      TakeTensor(&in, &name, &t);
      gathered_slots[name].emplace_back(shard, std::move(t));
    }
    CRANK_CHECK(in.empty(), "GatherTo: unread bytes from rank {}", r);
  }
  if (full_optimizer == nullptr || model_->optimizer() == nullptr) return;
  full_optimizer->Prepare(full->TrainableVariables());
  full_optimizer->set_iterations(model_->optimizer()->iterations());
  std::map<std::string, Tensor*> own;
  for (const auto& [name, t] : state) own[name] = t;
  for (const auto& [name, dst] : full_optimizer->StateTensors()) {
    const int table = TableOfOptimizerState(name, tables);
    if (table < 0) {
      const auto it = own.find(name);
      if (it == own.end()) continue;  // not created yet: Prepare's initial state
      CRANK_REQUIRE(it->second->shape() == dst->shape(), "GatherTo: state {} is {}, expected {}",
                    name, it->second->ShapeString(), dst->ShapeString());
      *dst = *it->second;
      continue;
    }
    const auto it = gathered_slots.find(name);
    if (it == gathered_slots.end()) continue;
    const auto& shard_list = embedding_->placement().shards[table];
    const int64_t rows = tables[table].vocabulary_size;
    for (const auto& [shard, t] : it->second) {
      const TableShard& sh = shard_list[static_cast<size_t>(shard)];
      if (dst->rank() >= 1 && dst->dim(0) == rows && t.rank() == dst->rank() &&
          t.dim(0) == sh.rows()) {
        const int64_t per_row = t.dim(0) > 0 ? t.size() / t.dim(0) : 0;
        std::memcpy(dst->data() + sh.row_begin * per_row, t.data(), sizeof(float) * t.size());
      } else if (shard == 0) {  // per-table state: the first shard's
        CRANK_REQUIRE(t.shape() == dst->shape(), "GatherTo: state {} is {}, expected {}", name,
                      t.ShapeString(), dst->ShapeString());
        *dst = t;
      }
    }
  }
}

void HybridParallel::ScatterFrom(Ranking& full, Optimizer* full_optimizer) {
  const std::vector<Variable*> dense = model_->DenseTrainableVariables();
  const std::vector<Variable*> full_dense = full.DenseTrainableVariables();
  CRANK_REQUIRE(dense.size() == full_dense.size(), "ScatterFrom: {} dense variables, expected {}",
                full_dense.size(), dense.size());
  for (size_t i = 0; i < dense.size(); ++i) {
    CRANK_REQUIRE(dense[i]->name == full_dense[i]->name &&
                      dense[i]->value.shape() == full_dense[i]->value.shape(),
                  "ScatterFrom: variable {} does not match {}", full_dense[i]->name,
                  dense[i]->name);
    dense[i]->value = full_dense[i]->value;
  }
  embedding_->CopyShardsFrom(full.EmbeddingTrainableVariables());
  Optimizer* optimizer = model_->optimizer();
  if (full_optimizer == nullptr || optimizer == nullptr) return;
  optimizer->Prepare(model_->TrainableVariables());
  optimizer->set_iterations(full_optimizer->iterations());
  std::map<std::string, Tensor*> source;
  for (const auto& [name, t] : full_optimizer->StateTensors()) source[name] = t;
  const auto& tables = embedding_->tables();
  for (const auto& [name, dst] : optimizer->StateTensors()) {
    const auto it = source.find(name);
    CRANK_REQUIRE(it != source.end(), "ScatterFrom: the optimizer state has no {}", name);
    const int table = TableOfOptimizerState(name, tables);
    int64_t begin = 0;
    if (table >= 0) {
      const int s = embedding_->placement().ShardOf(table, group().rank());
      if (s >= 0) begin = embedding_->placement().shards[table][s].row_begin;
    }
    CopyRowsOut(*it->second, begin, dst, "ScatterFrom: state " + name);
  }
}

}  // namespace crank
