#ifndef CRANK_DATA_DATA_SPEC_H_
#define CRANK_DATA_DATA_SPEC_H_

// What the model needs to know about the data: the dense fields (D columns of Batch::dense),
// the sparse features (F entries of Batch::sparse, sorted by name) with their id ranges, and
// the label kind. Produced by DataMapping::spec().

#include <cstdint>
#include <string>
#include <vector>

#include "crank/data/config.h"

namespace crank {

struct SparseFeatureSpec {
  std::string name;
  int64_t vocabulary_size = 0;  // V: ids lie in [0, V); id 0 = missing
  bool multi_hot = false;       // false: exactly one id per example
};

struct DataSpec {
  std::vector<std::string> dense;         // D names, in Batch::dense column order
  std::vector<SparseFeatureSpec> sparse;  // F features, sorted by name (Batch::sparse order)
  LabelKind label = LabelKind::kBinary;
  bool weighted = false;  // batches carry sample weights

  int64_t num_dense() const { return static_cast<int64_t>(dense.size()); }
  int64_t num_sparse() const { return static_cast<int64_t>(sparse.size()); }
  // Index into `sparse` of the feature called `name`, or -1.
  int SparseIndex(const std::string& name) const {
    for (size_t i = 0; i < sparse.size(); ++i) {
      if (sparse[i].name == name) return static_cast<int>(i);
    }
    return -1;
  }
};

// The fields of a configuration in the order batches hold them: dense in configuration order
// (Criteo: I1..I13), sparse sorted by name (Criteo: C1, C10, C11, ..., C19, C2, C20, ...).
// For Criteo the fields are generated from CriteoConfig (dense: log1p, missing -> 0).
struct Schema {
  std::vector<DenseField> dense;    // D
  std::vector<SparseField> sparse;  // F, sorted by name
};
Schema ResolveSchema(const DataConfig& config);

}  // namespace crank

#endif  // CRANK_DATA_DATA_SPEC_H_
