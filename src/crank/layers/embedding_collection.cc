#include "crank/layers/embedding_collection.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>
#include <utility>

#include "crank/base/error.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/parallel_for.h"
#include "crank/layers/initializers.h"

namespace crank {
namespace {

// Forward and Backward work on whole features / tables in parallel (one per task) when there
// are at least this many per compute thread and each one is too small for its own loops to be
// split over the threads (small batches); otherwise each one's own loops are parallel.
constexpr int64_t kMinFeaturesPerThread = 4;

// Whether one bag of the batch, of the mean number of lookups, is worth splitting over the
// threads (EmbeddingBagWorthSplitting).
bool SplitExamples(const std::vector<SparseFeature>& features, int64_t dim) {
  const int64_t n = static_cast<int64_t>(features.size());
  int64_t nnz = 0;
  for (const SparseFeature& f : features) nnz += static_cast<int64_t>(f.ids.size());
  return EmbeddingBagWorthSplitting(features[0].batch_size(), nnz / n, dim);
}

// Whether to spread the features of a batch over the threads (see kMinFeaturesPerThread).
bool SpreadFeatures(const std::vector<SparseFeature>& features, int64_t dim) {
  const int64_t n = static_cast<int64_t>(features.size());
  if (n < kMinFeaturesPerThread * ComputeThreads() || ComputeThreads() < 2) return false;
  return !SplitExamples(features, dim);
}

// "(C1, C10, ...)" for messages: every name when there are few, else the first two.
std::string NameList(const std::vector<std::string>& names) {
  if (names.empty()) return "none";
  std::string s = "(";
  const size_t shown = names.size() <= 3 ? names.size() : 2;
  for (size_t i = 0; i < shown; ++i) s += (i ? ", " : "") + names[i];
  if (shown < names.size()) s += ", ...";
  return s + ")";
}

}  // namespace

EmbeddingCollection::EmbeddingCollection(std::vector<TableConfig> tables,
                                         std::vector<FeatureConfig> features)
    : tables_(std::move(tables)), features_(std::move(features)) {
  std::set<std::string> seen;
  std::vector<std::string> table_names;
  for (const TableConfig& t : tables_) {
    CRANK_REQUIRE(!t.name.empty(), "embedding table names must be non-empty");
    table_names.push_back(t.name);
    CRANK_REQUIRE(seen.insert(t.name).second,
                  "embedding table names must be unique, got '{}' twice", t.name);
    CRANK_REQUIRE(t.vocabulary_size > 0,
                  "embedding table '{}': vocabulary_size must be > 0, got {}", t.name,
                  t.vocabulary_size);
    CRANK_REQUIRE(t.dim > 0, "embedding table '{}': dim must be > 0, got {}", t.name, t.dim);
    CRANK_REQUIRE(std::isfinite(t.init_stddev) && t.init_stddev >= 0,
                  "embedding table '{}': init_stddev must be finite and >= 0 (0 for 1/sqrt(dim)), "
                  "got {}",
                  t.name, t.init_stddev);
    CRANK_REQUIRE(std::isfinite(t.l2) && t.l2 >= 0,
                  "embedding table '{}': l2 must be finite and >= 0, got {}", t.name, t.l2);
  }
  std::sort(features_.begin(), features_.end(),
            [](const FeatureConfig& a, const FeatureConfig& b) { return a.name < b.name; });
  work_.resize(tables_.size());
  for (size_t i = 0; i < features_.size(); ++i) {
    const FeatureConfig& f = features_[i];
    CRANK_REQUIRE(!f.name.empty(), "sparse feature names must be non-empty");
    CRANK_REQUIRE(i == 0 || features_[i - 1].name != f.name,
                  "sparse feature names must be unique, got '{}' twice", f.name);
    auto it = std::find_if(tables_.begin(), tables_.end(),
                           [&](const TableConfig& t) { return t.name == f.table; });
    CRANK_REQUIRE(it != tables_.end(),
                  "sparse feature '{}' reads embedding table '{}', which does not exist "
                  "(tables: {})",
                  f.name, f.table, fmt::join(table_names, ", "));
    const int t = static_cast<int>(it - tables_.begin());
    feature_names_.push_back(f.name);
    feature_table_.push_back(t);
    work_[static_cast<size_t>(t)].features.push_back(static_cast<int>(i));
  }
  variables_.resize(tables_.size());
  for (size_t t = 0; t < tables_.size(); ++t) {
    Variable& v = variables_[t];
    v.name = "embedding/" + tables_[t].name;
    v.sparse = true;
    v.l2 = tables_[t].l2;
  }
}

namespace {
constexpr int64_t kInitBlockRows = 4096;
// Rng::Fork streams of the 16-bit tables' rounding seeds (above those of the row blocks, which
// use table << 40 + row).
constexpr uint64_t kRoundingStream = uint64_t{1} << 63;
}  // namespace

void EmbeddingCollection::InitialRows(const TableConfig& c, size_t table, uint64_t root_seed,
                                      int64_t row_begin, int64_t row_end, float* out) {
  CRANK_REQUIRE(0 <= row_begin && row_begin <= row_end && row_end <= c.vocabulary_size,
                "InitialRows: rows [{}, {}) of table '{}' with {} rows", row_begin, row_end, c.name,
                c.vocabulary_size);
  const Rng root(root_seed);
  const double stddev =
      c.init_stddev > 0 ? c.init_stddev : 1.0 / std::sqrt(static_cast<double>(c.dim));
  for (int64_t first = row_begin / kInitBlockRows * kInitBlockRows; first < row_end;
       first += kInitBlockRows) {
    // Block [first, first + kInitBlockRows): its own stream; rows before row_begin are drawn
    // and dropped, so every row gets the same values whatever range is asked for.
    Rng block_rng = root.Fork((static_cast<uint64_t>(table) << 40) + static_cast<uint64_t>(first));
    const int64_t last = std::min(first + kInitBlockRows, row_end);
    for (int64_t r = first; r < last; ++r) {
      float* p = r >= row_begin ? out + (r - row_begin) * c.dim : nullptr;
      for (int64_t j = 0; j < c.dim; ++j) {
        const float v = static_cast<float>(block_rng.TruncatedNormal(stddev));
        if (p != nullptr) p[j] = v;
      }
    }
  }
}

uint64_t EmbeddingCollection::RoundingSeed(size_t table, uint64_t root_seed) {
  return Rng(root_seed).Fork(kRoundingStream + table).NextU64();
}

void EmbeddingCollection::Build(Rng& rng) {
  // Tables are initialised in blocks of rows, each block from its own random stream
  // (root.Fork(table, block)): the values do not depend on the thread count, and large tables
  // initialise in parallel.
  const uint64_t root_seed = rng.NextU64();
  std::vector<std::pair<size_t, int64_t>> blocks;  // (table, first row)
  for (size_t t = 0; t < tables_.size(); ++t) {
    const TableConfig& c = tables_[t];
    Variable& v = variables_[t];
    v.precision = c.precision;
    v.sparse_grad.ids.clear();
    v.sparse_grad.rows.Resize({0, c.dim});
    if (v.is16()) {
      v.value = Tensor();
      v.value16.Resize({c.vocabulary_size, c.dim});  // zeros
      v.rounding_seed = RoundingSeed(t, root_seed);
    } else {
      v.value16 = Tensor16();
      if (draw_initial_rows_) {
        v.value.Resize({c.vocabulary_size, c.dim});
      } else {
        v.value.ResizeZero({c.vocabulary_size, c.dim});
      }
    }
    if (!draw_initial_rows_) continue;
    for (int64_t r = 0; r < c.vocabulary_size; r += kInitBlockRows) blocks.emplace_back(t, r);
  }
  ParallelForDynamic(static_cast<int64_t>(blocks.size()), true, [&](int64_t b) {
    const auto [t, first] = blocks[static_cast<size_t>(b)];
    const TableConfig& c = tables_[t];
    Variable& v = variables_[t];
    const int64_t last = std::min(first + kInitBlockRows, c.vocabulary_size);
    if (!v.is16()) {
      InitialRows(c, t, root_seed, first, last, v.value.row(first));
      return;
    }
    // The fp32 values, rounded to nearest.
    std::vector<float> rows(static_cast<size_t>((last - first) * c.dim));
    InitialRows(c, t, root_seed, first, last, rows.data());
    NarrowRowNearest(v.precision, rows.data(), static_cast<int64_t>(rows.size()),
                     v.value16.row(first));
  });
  built_ = true;
  inputs_ = nullptr;
}

std::vector<int64_t> EmbeddingCollection::OutputDims() const {
  std::vector<int64_t> dims;
  dims.reserve(features_.size());
  for (int t : feature_table_) dims.push_back(tables_[static_cast<size_t>(t)].dim);
  return dims;
}

std::vector<Variable*> EmbeddingCollection::Variables() {
  std::vector<Variable*> vars;
  vars.reserve(variables_.size());
  for (Variable& v : variables_) vars.push_back(&v);
  return vars;
}

void EmbeddingCollection::RequireBuilt(const char* what) const {
  CRANK_REQUIRE(built_, "EmbeddingCollection::{} called before Build", what);
}

void EmbeddingCollection::Validate(const std::vector<SparseFeature>& features) const {
  CRANK_REQUIRE(features.size() == features_.size(), "expected {} sparse features {}, got {}",
                features_.size(), NameList(feature_names_), features.size());
  if (features.empty()) return;
  const std::string& first = feature_names_[0];
  CRANK_REQUIRE(!features[0].offsets.empty(),
                "feature '{}': expected B+1 offsets for a batch of B examples, got none", first);
  const int64_t batch = features[0].batch_size();
  for (size_t i = 0; i < features.size(); ++i) {
    const SparseFeature& f = features[i];
    const std::string& name = feature_names_[i];
    const TableConfig& table = tables_[static_cast<size_t>(feature_table_[i])];
    const int64_t nnz = static_cast<int64_t>(f.ids.size());
    CRANK_REQUIRE(f.batch_size() == batch && !f.offsets.empty(),
                  "feature '{}': expected {} offsets (batch size {}, as feature '{}'), got {} "
                  "(batch size {})",
                  name, batch + 1, batch, first, f.offsets.size(), f.batch_size());
    CRANK_REQUIRE(f.offsets[0] == 0, "feature '{}': offsets[0] must be 0, got {}", name,
                  f.offsets[0]);
    for (int64_t b = 0; b < batch; ++b) {
      const size_t ub = static_cast<size_t>(b);
      CRANK_REQUIRE(f.offsets[ub + 1] >= f.offsets[ub],
                    "feature '{}', example {}: offsets must be non-decreasing, got offsets[{}] = "
                    "{} after offsets[{}] = {}",
                    name, b, b + 1, f.offsets[ub + 1], b, f.offsets[ub]);
    }
    CRANK_REQUIRE(f.offsets.back() == nnz,
                  "feature '{}': offsets[B] (B = {}) must equal the number of ids {}, got {}", name,
                  batch, nnz, f.offsets.back());
    CRANK_REQUIRE(f.weights.empty() || static_cast<int64_t>(f.weights.size()) == nnz,
                  "feature '{}': expected 0 or {} weights (one per id), got {}", name, nnz,
                  f.weights.size());
    const auto example_of = [&](int64_t k) {
      return static_cast<int64_t>(std::upper_bound(f.offsets.begin(), f.offsets.end(), k) -
                                  f.offsets.begin()) -
             1;
    };
    for (int64_t k = 0; k < nnz; ++k) {
      const int64_t id = f.ids[static_cast<size_t>(k)];
      if (id < 0 || id >= table.vocabulary_size) [[unlikely]] {
        throw InvalidArgument(
            fmt::format("feature '{}', example {}: id {} is outside table '{}' with {} rows", name,
                        example_of(k), id, table.name, table.vocabulary_size));
      }
    }
    for (int64_t k = 0; k < static_cast<int64_t>(f.weights.size()); ++k) {
      const float w = f.weights[static_cast<size_t>(k)];
      if (!std::isfinite(w) || w < 0) [[unlikely]] {
        throw InvalidArgument(fmt::format(
            "feature '{}', example {}: weights must be finite and >= 0, got {} for id {}", name,
            example_of(k), w, f.ids[static_cast<size_t>(k)]));
      }
    }
  }
}

void EmbeddingCollection::Forward(const std::vector<SparseFeature>& features,
                                  std::vector<Tensor>* outputs, bool training) {
  RequireBuilt("Forward");
  inputs_ = nullptr;
  batch_ = Lookup(features, outputs);
  if (training) inputs_ = &features;
}

void EmbeddingCollection::Predict(const std::vector<SparseFeature>& features,
                                  std::vector<Tensor>* outputs,
                                  InferenceScratch* /*scratch*/) const {
  RequireBuilt("Predict");
  Lookup(features, outputs);
}

int64_t EmbeddingCollection::Lookup(const std::vector<SparseFeature>& features,
                                    std::vector<Tensor>* outputs) const {
  Validate(features);
  const int64_t batch = features.empty() ? 0 : features[0].batch_size();
  outputs->resize(features.size());
  for (size_t i = 0; i < features.size(); ++i) {
    (*outputs)[i].Resize({batch, tables_[static_cast<size_t>(feature_table_[i])].dim});
  }
  const int64_t n = static_cast<int64_t>(features.size());
  auto pool = [&](size_t i, int64_t first, int64_t last) {  // examples [first, last) of feature i
    const SparseFeature& f = features[i];
    const size_t t = static_cast<size_t>(feature_table_[i]);
    const Variable& v = variables_[t];
    const float* weights = f.weights.empty() ? nullptr : f.weights.data();
    if (v.is16()) {
      EmbeddingBagForward16Range(v.precision, v.value16.data(), tables_[t].dim, f.ids.data(),
                                 f.offsets.data(), weights, batch, first, last,
                                 features_[i].pooling, (*outputs)[i].data());
    } else {
      EmbeddingBagForwardRange(v.value.data(), tables_[t].dim, f.ids.data(), f.offsets.data(),
                               weights, batch, first, last, features_[i].pooling,
                               (*outputs)[i].data());
    }
  };
  // With several features per thread, one parallel region over the features (each pooled on one
  // thread). Otherwise, when the batch is worth splitting, one parallel region over the examples
  // (each thread pools its share of every feature) instead of one region per feature: every
  // region wakes the other threads. The outputs are the same bits either way.
  if (n > 0 && SpreadFeatures(features, tables_[0].dim)) {
    ParallelForDynamic(n, true, [&](int64_t k) { pool(static_cast<size_t>(k), 0, batch); });
    return batch;
  }
  const bool split = n > 0 && SplitExamples(features, tables_[0].dim);
  const int64_t parts = split ? ComputeThreads() : 1;
  ParallelFor(parts, split, [&](int64_t p) {
    for (size_t i = 0; i < features.size(); ++i) {
      pool(i, batch * p / parts, batch * (p + 1) / parts);
    }
  });
  return batch;
}

void EmbeddingCollection::Backward(const std::vector<Tensor>& d_outputs) {
  CRANK_REQUIRE(inputs_ != nullptr,
                "EmbeddingCollection::Backward needs a preceding Forward with training = true");
  const std::vector<SparseFeature>& inputs = *inputs_;
  CRANK_REQUIRE(d_outputs.size() == features_.size(), "expected {} output gradients {}, got {}",
                features_.size(), NameList(feature_names_), d_outputs.size());
  for (size_t i = 0; i < d_outputs.size(); ++i) {
    const int64_t dim = tables_[static_cast<size_t>(feature_table_[i])].dim;
    const Tensor& d = d_outputs[i];
    CRANK_REQUIRE(d.rank() == 2 && d.dim(0) == batch_ && d.dim(1) == dim,
                  "feature '{}': expected an output gradient of shape ({}, {}), got {}",
                  feature_names_[i], batch_, dim, d.ShapeString());
  }

  const int64_t num_tables = static_cast<int64_t>(tables_.size());
  // Tables are independent: with several per thread, one parallel region over the tables (each
  // merged on one thread) replaces the per-table regions; the result is the same either way.
  ParallelForDynamic(num_tables, num_tables >= kMinFeaturesPerThread * ComputeThreads(),
                     [&](int64_t t) { BackwardTable(static_cast<size_t>(t), inputs, d_outputs); });
}

void EmbeddingCollection::BackwardTable(size_t t, const std::vector<SparseFeature>& inputs,
                                        const std::vector<Tensor>& d_outputs) {
  TableWork& w = work_[t];
  RowSparseGrad& g = variables_[t].sparse_grad;
  const int64_t dim = tables_[t].dim;
  const int64_t num_old = static_cast<int64_t>(g.ids.size());
  if (num_old == 0) {
    g.rows.Resize({0, dim});
  } else {
    CRANK_CHECK(g.rows.rank() == 2 && g.rows.dim(0) == num_old && g.rows.dim(1) == dim,
                "table '{}': sparse_grad has {} ids but rows {}", tables_[t].name, num_old,
                g.rows.ShapeString());
  }
  int64_t n = num_old;
  for (int i : w.features) n += static_cast<int64_t>(inputs[static_cast<size_t>(i)].ids.size());
  if (n == num_old) return;  // no lookups of this table in the batch

  // Every lookup of the table as (id, coefficient, output-gradient row); the rows already
  // accumulated come first with coefficient 1, so each merged row is old + new contributions.
  w.ids.resize(static_cast<size_t>(n));
  w.coef.resize(static_cast<size_t>(n));
  w.d_rows.resize(static_cast<size_t>(n));
  for (int64_t k = 0; k < num_old; ++k) {
    w.ids[static_cast<size_t>(k)] = g.ids[static_cast<size_t>(k)];
    w.coef[static_cast<size_t>(k)] = 1.0f;
    w.d_rows[static_cast<size_t>(k)] = g.rows.row(k);
  }
  int64_t pos = num_old;
  for (int i : w.features) {
    const SparseFeature& f = inputs[static_cast<size_t>(i)];
    const float* d = d_outputs[static_cast<size_t>(i)].data();
    std::copy(f.ids.begin(), f.ids.end(), w.ids.begin() + pos);
    EmbeddingBagCoefficients(f.offsets.data(), f.weights.empty() ? nullptr : f.weights.data(),
                             batch_, features_[static_cast<size_t>(i)].pooling,
                             w.coef.data() + pos);
    for (int64_t b = 0; b < batch_; ++b) {
      const float* row = d + b * dim;
      for (int64_t k = f.offsets[static_cast<size_t>(b)]; k < f.offsets[static_cast<size_t>(b) + 1];
           ++k) {
        w.d_rows[static_cast<size_t>(pos + k)] = row;
      }
    }
    pos += static_cast<int64_t>(f.ids.size());
  }

  w.order.resize(static_cast<size_t>(n));
  w.scratch.resize(static_cast<size_t>(GroupIdsScratchSize(n)));
  w.unique.resize(static_cast<size_t>(n));
  w.segments.resize(static_cast<size_t>(n) + 1);
  const int64_t num_unique = GroupIds(w.ids.data(), n, tables_[t].vocabulary_size, w.order.data(),
                                      w.scratch.data(), w.unique.data(), w.segments.data());
  w.rows.Resize({num_unique, dim});
  EmbeddingBagBackward(num_unique, dim, w.segments.data(), w.order.data(), w.coef.data(),
                       w.d_rows.data(), w.rows.data());
  w.unique.resize(static_cast<size_t>(num_unique));
  std::swap(g.ids, w.unique);
  std::swap(g.rows, w.rows);
}

}  // namespace crank
