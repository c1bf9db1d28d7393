#ifndef CRANK_DATA_MAPPING_H_
#define CRANK_DATA_MAPPING_H_

// DataMapping: everything that turns parsed rows into model inputs and that evaluation and
// prediction must reproduce exactly: the schema (from the configuration), hash sizes, the
// vocabularies and the dense statistics learned from the training rows. It serialises to a
// string (stored in checkpoints) and restores from it.
//
// Immutable after construction: one mapping may be shared by several readers and threads.

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/batch_builder.h"
#include "crank/data/config.h"
#include "crank/data/data_spec.h"
#include "crank/data/row_parser.h"
#include "crank/data/row_source.h"
#include "crank/data/token_hash.h"
#include "crank/data/vocabulary.h"

namespace crank {

// Mean and population standard deviation of a dense field's raw values over the training
// rows where it is present.
struct DenseStats {
  int64_t count = 0;
  double mean = 0.0;
  double stddev = 1.0;
};

class DataMapping {
 public:
  // Builds the mapping for `config`. When a field needs a vocabulary or statistics
  // (transform: standardize, missing: mean) this makes one streaming pass over the rows of
  // `train_files` that RowSplit::kTrain selects (malformed rows follow config.on_error);
  // otherwise it reads nothing. With no files, vocabularies are empty (every token is OOV)
  // and statistics are mean 0, stddev 1.
  static DataMapping Build(const DataConfig& config, const std::vector<std::string>& train_files);
  // Whether Build reads the training files for `config`.
  static bool NeedsPass(const DataConfig& config);

  // A self-describing text (format in docs/data_format.md); Deserialize(Serialize()) maps
  // every row exactly as this mapping does.
  std::string Serialize() const;
  // Throws IoError when `text` is not a mapping Serialize wrote (truncated, corrupted,
  // another version).
  static DataMapping Deserialize(std::string_view text);

  // A copy that treats malformed rows by `policy` (e.g. `crank predict --bad-rows fail`);
  // everything else, learned state included, is shared with this mapping.
  DataMapping WithErrorPolicy(ErrorPolicy policy) const;

  // The configuration (without train/eval file lists), the resolved schema and what the model
  // needs to know.
  const DataConfig& config() const { return *config_; }
  const Schema& schema() const { return *schema_; }
  const DataSpec& spec() const { return spec_; }

  // Learned state. vocabulary(f) is nullptr for a hashed feature f (DataSpec order).
  const Vocabulary* vocabulary(size_t f) const { return vocabularies_[f].get(); }
  const DenseStats& dense_stats(size_t d) const { return dense_stats_[d]; }

  // Maps a parsed row: dense transforms (missing values first become 0 or the mean), token
  // keys to ids (a missing feature gets the single id 0). `raw` must come from a parser made
  // for this mapping's configuration.
  void Apply(const RawRow& raw, Example* out) const;
  // The same mapping appended to `builder` as its next row (Begin called with spec()), without
  // an Example in between: the batch equals Apply + BatchBuilder::Append, bit for bit.
  void Apply(const RawRow& raw, BatchBuilder* builder) const;

 private:
  DataMapping() = default;
  void Init(DataConfig config);  // config, schema, spec with default state
  void FinishSpec();
  float MapDense(size_t d, double raw) const;  // dense field d of a raw value (NaN: missing)
  // Appends the ids of sparse feature f for its token keys (kMissingId when there are none).
  void MapIds(size_t f, const std::vector<uint64_t>& keys, std::vector<int64_t>* ids) const;

  std::shared_ptr<const DataConfig> config_;  // shared: copies of a mapping stay cheap
  std::shared_ptr<const Schema> schema_;
  DataSpec spec_;
  std::vector<std::shared_ptr<const Vocabulary>> vocabularies_;  // F, nullptr = hashed
  std::vector<DenseStats> dense_stats_;                          // D
  std::vector<BucketHasher> hashers_;                            // F
};

}  // namespace crank

#endif  // CRANK_DATA_MAPPING_H_
