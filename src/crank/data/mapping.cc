#include "crank/data/mapping.h"

#include <algorithm>
#include <array>
#include <charconv>
#include <cmath>
#include <utility>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/token_hash.h"

namespace crank {
namespace {

constexpr std::string_view kMagic = "crank-data-mapping 1";

bool NeedsStats(const DenseField& f) {
  return f.transform == DenseTransform::kStandardize || f.missing == MissingValue::kMean;
}

// log(1 + x) for the small non-negative integers that dominate count features.
constexpr int kLog1pTableSize = 4096;
// Transformed dense values are clipped to +-1e9: products of such values through the MLPs and
// the dot interaction stay far inside float32's range (3.4e38), so one absurd input value (say
// 1e30 in a column without a transform) cannot turn the model's output into inf or NaN.
constexpr double kMaxDenseValue = 1e9;
const std::array<float, kLog1pTableSize>& Log1pTable() {
  static const std::array<float, kLog1pTableSize> table = [] {
    std::array<float, kLog1pTableSize> t{};
    for (int i = 0; i < kLog1pTableSize; ++i)
      t[static_cast<size_t>(i)] = static_cast<float>(std::log1p(i));
    return t;
  }();
  return table;
}

// Reads the serialised form line by line; any problem is an IoError.
class Cursor {
 public:
  explicit Cursor(std::string_view text) : text_(text) {}
  [[noreturn]] void Fail(const std::string& what) const {
    throw IoError(fmt::format("data mapping is corrupt or of another version: {}", what));
  }
  std::string_view Line() {
    if (pos_ >= text_.size()) Fail("it ends early");
    const size_t nl = text_.find('\n', pos_);
    if (nl == std::string_view::npos) Fail("it ends early (no newline)");
    const std::string_view line = text_.substr(pos_, nl - pos_);
    pos_ = nl + 1;
    return line;
  }
  std::string_view Bytes(size_t n) {
    if (text_.size() - pos_ < n) Fail("it ends early");
    const std::string_view b = text_.substr(pos_, n);
    pos_ += n;
    return b;
  }
  bool AtEnd() const { return pos_ == text_.size(); }

 private:
  std::string_view text_;
  size_t pos_ = 0;
};

std::vector<std::string_view> Words(std::string_view line) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < line.size()) {
    const size_t sp = line.find(' ', i);
    const size_t end = sp == std::string_view::npos ? line.size() : sp;
    if (end > i) out.push_back(line.substr(i, end - i));
    i = end + 1;
  }
  return out;
}

template <typename T>
T ParseWord(const Cursor& c, std::string_view w, const char* what) {
  T v{};
  const auto [ptr, ec] = std::from_chars(w.data(), w.data() + w.size(), v);
  if (ec != std::errc() || ptr != w.data() + w.size()) {
    c.Fail(fmt::format("bad {} '{}'", what, std::string(w)));
  }
  return v;
}

}  // namespace

bool DataMapping::NeedsPass(const DataConfig& config) {
  const Schema s = ResolveSchema(config);
  for (const DenseField& f : s.dense) {
    if (NeedsStats(f)) return true;
  }
  for (const SparseField& f : s.sparse) {
    if (f.encoding.kind == Encoding::Kind::kVocabulary) return true;
  }
  return false;
}

void DataMapping::Init(DataConfig config) {
  config.Validate();
  config.train_files.clear();  // run inputs, not part of the mapping
  config.eval_files.clear();
  auto schema = std::make_shared<Schema>(ResolveSchema(config));
  config_ = std::make_shared<const DataConfig>(std::move(config));
  schema_ = std::move(schema);
  vocabularies_.assign(schema_->sparse.size(), nullptr);
  dense_stats_.assign(schema_->dense.size(), DenseStats{});
  FinishSpec();
}

void DataMapping::FinishSpec() {
  spec_ = DataSpec{};
  hashers_.clear();
  for (const SparseField& f : schema_->sparse) hashers_.emplace_back(f.encoding.hash_buckets);
  spec_.label = config_->task;
  spec_.weighted = config_->format == DataFormat::kDelimited && !config_->delimited.weight.empty();
  for (const DenseField& f : schema_->dense) spec_.dense.push_back(f.name);
  for (size_t i = 0; i < schema_->sparse.size(); ++i) {
    const SparseField& f = schema_->sparse[i];
    SparseFeatureSpec s;
    s.name = f.name;
    s.multi_hot = f.multi_hot;
    s.vocabulary_size = vocabularies_[i] ? vocabularies_[i]->size() : f.encoding.hash_buckets + 1;
    spec_.sparse.push_back(s);
  }
}

DataMapping DataMapping::Build(const DataConfig& config,
                               const std::vector<std::string>& train_files) {
  DataMapping m;
  m.Init(config);
  if (!NeedsPass(*m.config_)) return m;
  // The pass reads the training input to its end before training reads it again: a pipe would
  // be empty by then.
  if (const std::string pipe = FirstUnrereadableFile(train_files); !pipe.empty()) {
    throw ConfigError(fmt::format(
        "{} is not a regular file (a pipe or device): the vocabularies and statistics of this "
        "data configuration are counted in a pass over the training data before training reads "
        "it, and a pipe can be read only once; write the data to a file first, or use hashed "
        "encodings (--hash-buckets N) and no standardize transform or missing: mean",
        pipe));
  }

  const Schema& schema = *m.schema_;
  const size_t nd = schema.dense.size(), nf = schema.sparse.size();
  std::vector<std::unique_ptr<TokenCounter>> counters(nf);
  for (size_t f = 0; f < nf; ++f) {
    const Encoding& e = schema.sparse[f].encoding;
    if (e.kind == Encoding::Kind::kVocabulary) {
      counters[f] = std::make_unique<TokenCounter>(e.vocabulary.max_distinct);
    }
  }
  std::vector<double> mean(nd, 0.0), m2(nd, 0.0);  // Welford
  std::vector<int64_t> count(nd, 0);
  std::vector<bool> stats(nd);
  for (size_t d = 0; d < nd; ++d) stats[d] = NeedsStats(schema.dense[d]);

  RowSource source(*m.config_, schema, train_files, RowSplit::kTrain);
  RawRow raw;
  while (source.Next(&raw)) {
    for (size_t f = 0; f < nf; ++f) {
      if (!counters[f]) continue;
      for (const uint64_t k : raw.keys[f]) counters[f]->Add(k);
    }
    for (size_t d = 0; d < nd; ++d) {
      const double v = raw.dense[d];
      if (!stats[d] || std::isnan(v)) continue;
      ++count[d];
      const double delta = v - mean[d];
      mean[d] += delta / static_cast<double>(count[d]);
      m2[d] += delta * (v - mean[d]);
    }
  }
  for (size_t d = 0; d < nd; ++d) {
    DenseStats& s = m.dense_stats_[d];
    s.count = count[d];
    s.mean = count[d] > 0 ? mean[d] : 0.0;
    const double sd = count[d] > 0 ? std::sqrt(m2[d] / static_cast<double>(count[d])) : 0.0;
    s.stddev = sd > 0.0 && std::isfinite(sd) ? sd : 1.0;
  }
  for (size_t f = 0; f < nf; ++f) {
    if (!counters[f]) continue;
    const VocabularyOptions& o = schema.sparse[f].encoding.vocabulary;
    m.vocabularies_[f] = std::make_shared<Vocabulary>(counters[f]->Select(o.min_count, o.max_size));
    if (counters[f]->purges() > 0) {
      LogWarning(
          "feature {}: more than max_distinct = {} distinct tokens; the counter kept the frequent "
          "ones ({} purges), and each count is at most {} below the true count (a token seen at "
          "least {} times is kept for sure)",
          schema.sparse[f].name, o.max_distinct, counters[f]->purges(),
          counters[f]->max_undercount(), o.min_count + counters[f]->max_undercount());
    }
    LogDebug("feature {}: {} distinct tokens counted, {} kept (min_count {})",
             schema.sparse[f].name, counters[f]->distinct(), m.vocabularies_[f]->size() - 2,
             o.min_count);
  }
  if (!train_files.empty()) {
    LogInfo("data mapping: counted {} training rows ({} MB){}", source.stats().rows,
            source.stats().bytes >> 20,
            source.stats().skipped ? fmt::format(", skipped {} malformed", source.stats().skipped)
                                   : "");
  }
  m.FinishSpec();
  return m;
}

float DataMapping::MapDense(size_t d, double v) const {
  const DenseField& f = schema_->dense[d];
  const DenseStats& s = dense_stats_[d];
  if (std::isnan(v)) v = f.missing == MissingValue::kMean ? s.mean : 0.0;
  double y;
  switch (f.transform) {
    case DenseTransform::kLog1p:
      if (v <= 0.0) {
        y = 0.0f;
      } else if (v < kLog1pTableSize && v == std::floor(v)) {
        y = Log1pTable()[static_cast<size_t>(v)];
      } else {
        y = std::log1p(v);
      }
      break;
    case DenseTransform::kStandardize:
      y = (v - s.mean) / s.stddev;
      break;
    default:
      y = v;
  }
  return static_cast<float>(std::clamp(y, -kMaxDenseValue, kMaxDenseValue));
}

void DataMapping::MapIds(size_t f, const std::vector<uint64_t>& keys,
                         std::vector<int64_t>* ids) const {
  if (keys.empty()) {
    ids->push_back(Vocabulary::kMissingId);
  } else if (const Vocabulary* v = vocabularies_[f].get()) {
    for (const uint64_t k : keys) ids->push_back(v->Lookup(k));
  } else {
    const BucketHasher& h = hashers_[f];
    for (const uint64_t k : keys) ids->push_back(h.Id(k));
  }
}

void DataMapping::Apply(const RawRow& raw, Example* out) const {
  const size_t nd = schema_->dense.size(), nf = schema_->sparse.size();
  out->has_label = raw.has_label;
  out->label = static_cast<float>(raw.label);
  out->weight = static_cast<float>(raw.weight);
  out->dense.resize(nd);
  for (size_t d = 0; d < nd; ++d) out->dense[d] = MapDense(d, raw.dense[d]);
  out->ids.resize(nf);
  for (size_t f = 0; f < nf; ++f) {
    out->ids[f].clear();
    MapIds(f, raw.keys[f], &out->ids[f]);
  }
}

void DataMapping::Apply(const RawRow& raw, BatchBuilder* builder) const {
  const size_t nd = schema_->dense.size(), nf = schema_->sparse.size();
  float* dense = builder->BeginRow(raw.has_label, static_cast<float>(raw.label),
                                   static_cast<float>(raw.weight));
  for (size_t d = 0; d < nd; ++d) dense[d] = MapDense(d, raw.dense[d]);
  for (size_t f = 0; f < nf; ++f) MapIds(f, raw.keys[f], builder->ids(f));
  builder->EndRow();
}

std::string DataMapping::Serialize() const {
  std::string out(kMagic);
  out += "\n";
  const std::string yaml = config_->ToYaml();
  out += fmt::format("config {}\n", yaml.size());
  out += yaml;
  out += fmt::format("dense {}\n", dense_stats_.size());
  for (size_t d = 0; d < dense_stats_.size(); ++d) {
    const DenseStats& s = dense_stats_[d];
    out += fmt::format("{} {} {:.17g} {:.17g}\n", d, s.count, s.mean, s.stddev);
  }
  out += fmt::format("sparse {}\n", vocabularies_.size());
  for (size_t f = 0; f < vocabularies_.size(); ++f) {
    const Vocabulary* v = vocabularies_[f].get();
    if (v == nullptr) {
      out += fmt::format("{} hash {}\n", f, schema_->sparse[f].encoding.hash_buckets);
      continue;
    }
    out += fmt::format("{} vocabulary {}\n", f, v->keys().size());
    out.reserve(out.size() + v->keys().size() * 17);
    for (const uint64_t k : v->keys()) out += fmt::format("{:016x}\n", k);
  }
  out += "end\n";
  return out;
}

DataMapping DataMapping::Deserialize(std::string_view text) {
  Cursor c(text);
  if (c.Line() != kMagic) c.Fail(fmt::format("it does not start with '{}'", kMagic));
  std::vector<std::string_view> w = Words(c.Line());
  if (w.size() != 2 || w[0] != "config") c.Fail("expected 'config <bytes>'");
  const size_t n = ParseWord<size_t>(c, w[1], "config size");
  DataConfig config;
  try {
    config = DataConfig::FromYamlString(std::string(c.Bytes(n)), "<mapping>");
  } catch (const ConfigError& e) {
    c.Fail(e.what());
  }
  DataMapping m;
  m.Init(std::move(config));

  w = Words(c.Line());
  if (w.size() != 2 || w[0] != "dense" ||
      ParseWord<size_t>(c, w[1], "dense count") != m.dense_stats_.size()) {
    c.Fail(fmt::format("expected 'dense {}'", m.dense_stats_.size()));
  }
  for (size_t d = 0; d < m.dense_stats_.size(); ++d) {
    w = Words(c.Line());
    if (w.size() != 4 || ParseWord<size_t>(c, w[0], "dense index") != d) {
      c.Fail(fmt::format("expected the statistics of dense field {}", d));
    }
    DenseStats& s = m.dense_stats_[d];
    s.count = ParseWord<int64_t>(c, w[1], "count");
    s.mean = ParseWord<double>(c, w[2], "mean");
    s.stddev = ParseWord<double>(c, w[3], "stddev");
    if (!std::isfinite(s.mean) || !(s.stddev > 0.0) || !std::isfinite(s.stddev)) {
      c.Fail(fmt::format("invalid statistics for dense field {}", d));
    }
  }
  w = Words(c.Line());
  if (w.size() != 2 || w[0] != "sparse" ||
      ParseWord<size_t>(c, w[1], "sparse count") != m.vocabularies_.size()) {
    c.Fail(fmt::format("expected 'sparse {}'", m.vocabularies_.size()));
  }
  for (size_t f = 0; f < m.vocabularies_.size(); ++f) {
    const Encoding& e = m.schema_->sparse[f].encoding;
    w = Words(c.Line());
    if (w.size() != 3 || ParseWord<size_t>(c, w[0], "sparse index") != f) {
      c.Fail(fmt::format("expected the encoding of sparse feature {}", f));
    }
    if (e.kind == Encoding::Kind::kHash) {
      if (w[1] != "hash" || ParseWord<int64_t>(c, w[2], "buckets") != e.hash_buckets) {
        c.Fail(fmt::format("feature {}: expected 'hash {}'", f, e.hash_buckets));
      }
      continue;
    }
    if (w[1] != "vocabulary") c.Fail(fmt::format("feature {}: expected a vocabulary", f));
    const size_t count = ParseWord<size_t>(c, w[2], "vocabulary size");
    if (count > text.size() / 17)
      c.Fail(fmt::format("feature {}: vocabulary size {} is too large", f, count));
    std::vector<uint64_t> keys(count);
    for (size_t i = 0; i < count; ++i) {
      const std::string_view line = c.Line();
      if (line.size() != 16 || !ParseHex(line, &keys[i])) {
        c.Fail(fmt::format("feature {}: bad token key '{}'", f, std::string(line.substr(0, 20))));
      }
    }
    try {
      m.vocabularies_[f] = std::make_shared<Vocabulary>(std::move(keys));
    } catch (const InvalidArgument& ex) {
      c.Fail(ex.what());
    }
  }
  if (c.Line() != "end" || !c.AtEnd()) c.Fail("expected 'end' as the last line");
  m.FinishSpec();
  return m;
}

DataMapping DataMapping::WithErrorPolicy(ErrorPolicy policy) const {
  DataMapping copy = *this;
  auto config = std::make_shared<DataConfig>(*config_);
  config->on_error = policy;
  copy.config_ = std::move(config);
  return copy;
}

}  // namespace crank
