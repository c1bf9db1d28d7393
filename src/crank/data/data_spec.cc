#include "crank/data/data_spec.h"

#include <fmt/format.h>

#include <algorithm>
#include <string>

namespace crank {

Schema ResolveSchema(const DataConfig& config) {
  Schema s;
  if (config.format == DataFormat::kCriteo) {
    for (int i = 1; i <= CriteoConfig::kNumDense; ++i) {
      DenseField f;
      f.name = f.column = fmt::format("I{}", i);
      f.transform = DenseTransform::kLog1p;
      f.missing = MissingValue::kZero;
      s.dense.push_back(f);
    }
    for (int i = 1; i <= CriteoConfig::kNumSparse; ++i) {
      SparseField f;
      f.name = f.column = fmt::format("C{}", i);
      const auto it = config.criteo.fields.find(f.name);
      f.encoding = it != config.criteo.fields.end() ? it->second : config.criteo.encoding;
      s.sparse.push_back(f);
    }
  } else {
    s.dense = config.delimited.dense;
    s.sparse = config.delimited.sparse;
  }
  std::stable_sort(s.sparse.begin(), s.sparse.end(),
                   [](const SparseField& a, const SparseField& b) { return a.name < b.name; });
  return s;
}

}  // namespace crank
