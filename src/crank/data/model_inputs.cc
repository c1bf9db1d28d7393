#include "crank/data/model_inputs.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "crank/base/error.h"

namespace crank {
namespace {

constexpr const char* kDense = "dense";
constexpr const char* kLengthsSuffix = ".lengths";
constexpr const char* kWeightsSuffix = ".weights";

std::string ShapeText(const std::vector<int64_t>& shape) {
  return fmt::format("[{}]", fmt::join(shape, ", "));
}

[[noreturn]] void Fail(const std::string& input, const std::string& problem) {
  throw InvalidArgument(fmt::format("input '{}': {}", input, problem));
}

// Looks up inputs by name and tracks the batch size they agree on.
class InputSet {
 public:
  InputSet(const std::vector<NamedTensor>& inputs, const DataSpec& spec) {
    std::map<std::string, bool> known;  // name -> allowed
    if (spec.num_dense() > 0) known[kDense] = true;
    for (const SparseFeatureSpec& f : spec.sparse) {
      known[f.name] = true;
      if (f.multi_hot) {
        known[f.name + kLengthsSuffix] = true;
        known[f.name + kWeightsSuffix] = true;
      }
    }
    for (const NamedTensor& t : inputs) {
      if (!known.count(t.name)) {
        std::vector<std::string> names;
        for (const InputSpec& s : ModelInputSpecs(spec)) names.push_back(s.name);
        Fail(t.name, fmt::format("unknown input (the model takes {})", fmt::join(names, ", ")));
      }
      if (!by_name_.emplace(t.name, &t).second) Fail(t.name, "given more than once");
      const int64_t count = ShapeElementCount(fmt::format("input '{}'", t.name), t.shape);
      const size_t size = t.dtype == InputDType::kFp32 ? t.fp32.size() : t.int64.size();
      if (static_cast<int64_t>(size) != count) {
        Fail(t.name, fmt::format("shape {} holds {} values, the data has {}", ShapeText(t.shape),
                                 count, size));
      }
    }
  }

  // The input called `name`, or nullptr when it is optional and absent. Checks the datatype
  // and the rank.
  const NamedTensor* Get(const std::string& name, InputDType dtype, size_t rank,
                         bool required = true) const {
    const auto it = by_name_.find(name);
    if (it == by_name_.end()) {
      if (required) Fail(name, "missing");
      return nullptr;
    }
    const NamedTensor& t = *it->second;
    if (t.dtype != dtype) {
      Fail(name, fmt::format("expected datatype {}, got {}", InputDTypeName(dtype),
                             InputDTypeName(t.dtype)));
    }
    if (t.shape.size() != rank) {
      Fail(name, fmt::format("expected a shape of rank {}, got {}", rank, ShapeText(t.shape)));
    }
    return &t;
  }

  // Checks that `t`'s first dimension is the batch size (set by the first input that has one).
  void CheckBatch(const NamedTensor& t) {
    if (batch_ < 0) {
      batch_ = t.shape[0];
      batch_from_ = t.name;
      return;
    }
    if (t.shape[0] != batch_) {
      std::vector<int64_t> expected = t.shape;
      expected[0] = batch_;
      Fail(t.name, fmt::format("expected shape {}, got {} (the batch size of '{}' is {})",
                               ShapeText(expected), ShapeText(t.shape), batch_from_, batch_));
    }
  }

  int64_t batch() const { return batch_; }

 private:
  std::map<std::string, const NamedTensor*> by_name_;
  int64_t batch_ = -1;
  std::string batch_from_;
};

void CheckIds(const NamedTensor& t, int64_t vocabulary_size) {
  for (size_t i = 0; i < t.int64.size(); ++i) {
    const int64_t id = t.int64[i];
    if (id < 0 || id >= vocabulary_size) {
      Fail(t.name, fmt::format("id {} at index {} is outside [0, {})", id, i, vocabulary_size));
    }
  }
}

NamedTensor MakeInt64(std::string name, std::vector<int64_t> shape, std::vector<int64_t> data) {
  NamedTensor t;
  t.name = std::move(name);
  t.dtype = InputDType::kInt64;
  t.shape = std::move(shape);
  t.int64 = std::move(data);
  return t;
}

}  // namespace

int64_t ShapeElementCount(const std::string& where, const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (const int64_t d : shape) {
    if (d < 0) {
      throw InvalidArgument(
          fmt::format("{}: shape {} has a negative dimension", where, ShapeText(shape)));
    }
    if (d != 0 && n > std::numeric_limits<int64_t>::max() / d) {
      throw InvalidArgument(fmt::format("{}: shape {} is too large", where, ShapeText(shape)));
    }
    n *= d;
  }
  return n;
}

const char* InputDTypeName(InputDType dtype) {
  return dtype == InputDType::kFp32 ? "FP32" : "INT64";
}

bool ParseInputDType(std::string_view name, InputDType* dtype) {
  if (name == "FP32") {
    *dtype = InputDType::kFp32;
  } else if (name == "INT64") {
    *dtype = InputDType::kInt64;
  } else {
    return false;
  }
  return true;
}

std::vector<InputSpec> ModelInputSpecs(const DataSpec& spec) {
  std::vector<InputSpec> specs;
  if (spec.num_dense() > 0) specs.push_back({kDense, InputDType::kFp32, {-1, spec.num_dense()}});
  for (const SparseFeatureSpec& f : spec.sparse) {
    specs.push_back({f.name, InputDType::kInt64, {-1}});
    if (f.multi_hot) specs.push_back({f.name + kLengthsSuffix, InputDType::kInt64, {-1}});
  }
  return specs;
}

InputSpec OptionalWeightsSpec(const std::string& feature) {
  return {feature + kWeightsSuffix, InputDType::kFp32, {-1}};
}

std::vector<NamedTensor> BatchToModelInputs(const Batch& batch, const DataSpec& spec) {
  CRANK_REQUIRE(static_cast<int64_t>(batch.sparse.size()) == spec.num_sparse(),
                "batch to model inputs: the batch has {} sparse features, the model {}",
                batch.sparse.size(), spec.num_sparse());
  const int64_t b = batch.size();
  const int64_t d = spec.num_dense();
  std::vector<NamedTensor> out;
  if (d > 0) {
    CRANK_REQUIRE(batch.dense.rank() == 2 && batch.dense.dim(1) == d,
                  "batch to model inputs: dense is {}, expected ({}, {})",
                  batch.dense.ShapeString(), b, d);
    NamedTensor t;
    t.name = kDense;
    t.dtype = InputDType::kFp32;
    t.shape = {b, d};
    t.fp32.assign(batch.dense.data(), batch.dense.data() + b * d);
    out.push_back(std::move(t));
  }
  for (size_t f = 0; f < spec.sparse.size(); ++f) {
    const SparseFeatureSpec& fs = spec.sparse[f];
    const SparseFeature& sf = batch.sparse[f];
    CRANK_REQUIRE(
        sf.batch_size() == b && sf.offsets.back() == static_cast<int64_t>(sf.ids.size()),
        "batch to model inputs: feature '{}' has {} examples and {} ids for a batch of {}", fs.name,
        sf.batch_size(), sf.ids.size(), b);
    if (!fs.multi_hot) {
      for (int64_t i = 0; i < b; ++i) {
        CRANK_REQUIRE(sf.offsets[i + 1] - sf.offsets[i] == 1,
                      "batch to model inputs: single-hot feature '{}' has {} ids in example {}",
                      fs.name, sf.offsets[i + 1] - sf.offsets[i], i);
      }
      out.push_back(MakeInt64(fs.name, {b}, sf.ids));
      continue;
    }
    const int64_t nnz = static_cast<int64_t>(sf.ids.size());
    std::vector<int64_t> lengths(static_cast<size_t>(b));
    for (int64_t i = 0; i < b; ++i) lengths[i] = sf.offsets[i + 1] - sf.offsets[i];
    out.push_back(MakeInt64(fs.name, {nnz}, sf.ids));
    out.push_back(MakeInt64(fs.name + kLengthsSuffix, {b}, std::move(lengths)));
    if (!sf.weights.empty()) {
      CRANK_REQUIRE(static_cast<int64_t>(sf.weights.size()) == nnz,
                    "batch to model inputs: feature '{}' has {} weights for {} ids", fs.name,
                    sf.weights.size(), nnz);
      NamedTensor w;
      w.name = fs.name + kWeightsSuffix;
      w.dtype = InputDType::kFp32;
      w.shape = {nnz};
      w.fp32 = sf.weights;
      out.push_back(std::move(w));
    }
  }
  return out;
}

Batch ModelInputsToBatch(const std::vector<NamedTensor>& inputs, const DataSpec& spec) {
  InputSet set(inputs, spec);
  const int64_t d = spec.num_dense();
  const NamedTensor* dense = nullptr;
  if (d > 0) {
    dense = set.Get(kDense, InputDType::kFp32, 2);
    if (dense->shape[1] != d) {
      Fail(kDense, fmt::format("expected shape [{}, {}], got {}", dense->shape[0], d,
                               ShapeText(dense->shape)));
    }
    set.CheckBatch(*dense);
  }
  // Ids and lengths first, so B is known before the multi-hot ids are checked against it.
  struct Resolved {
    const NamedTensor* ids = nullptr;
    const NamedTensor* lengths = nullptr;
    const NamedTensor* weights = nullptr;
  };
  std::vector<Resolved> resolved(spec.sparse.size());
  for (size_t f = 0; f < spec.sparse.size(); ++f) {
    const SparseFeatureSpec& fs = spec.sparse[f];
    Resolved& r = resolved[f];
    r.ids = set.Get(fs.name, InputDType::kInt64, 1);
    if (fs.multi_hot) {
      r.lengths = set.Get(fs.name + kLengthsSuffix, InputDType::kInt64, 1);
      r.weights = set.Get(fs.name + kWeightsSuffix, InputDType::kFp32, 1, /*required=*/false);
      set.CheckBatch(*r.lengths);
    } else {
      set.CheckBatch(*r.ids);
    }
  }
  const int64_t b = std::max<int64_t>(set.batch(), 0);

  Batch batch;
  batch.dense.Resize({b, d});
  if (dense != nullptr && b * d > 0) {
    std::memcpy(batch.dense.data(), dense->fp32.data(), sizeof(float) * b * d);
  }
  batch.sparse.resize(spec.sparse.size());
  for (size_t f = 0; f < spec.sparse.size(); ++f) {
    const SparseFeatureSpec& fs = spec.sparse[f];
    const Resolved& r = resolved[f];
    SparseFeature& sf = batch.sparse[f];
    CheckIds(*r.ids, fs.vocabulary_size);
    sf.ids = r.ids->int64;
    sf.offsets.assign(1, 0);
    sf.offsets.reserve(static_cast<size_t>(b) + 1);
    if (!fs.multi_hot) {
      for (int64_t i = 0; i < b; ++i) sf.offsets.push_back(i + 1);
      continue;
    }
    const int64_t nnz = static_cast<int64_t>(sf.ids.size());
    int64_t total = 0;
    for (int64_t i = 0; i < b; ++i) {
      const int64_t len = r.lengths->int64[i];
      if (len < 0) Fail(r.lengths->name, fmt::format("length {} at index {} is negative", len, i));
      if (len > nnz - total) {
        Fail(r.lengths->name,
             fmt::format("lengths sum to more than the {} ids of '{}'", nnz, fs.name));
      }
      total += len;
      sf.offsets.push_back(total);
    }
    if (total != nnz) {
      Fail(r.lengths->name,
           fmt::format("lengths sum to {}, but '{}' has {} ids", total, fs.name, nnz));
    }
    if (r.weights != nullptr) {
      if (r.weights->shape[0] != nnz) {
        Fail(r.weights->name, fmt::format("expected shape [{}] (one weight per id of '{}'), got {}",
                                          nnz, fs.name, ShapeText(r.weights->shape)));
      }
      sf.weights = r.weights->fp32;
    }
  }
  return batch;
}

nlohmann::json ModelInputsToJson(const std::vector<NamedTensor>& inputs) {
  nlohmann::json out = nlohmann::json::array();
  for (const NamedTensor& t : inputs) {
    nlohmann::json j;
    j["name"] = t.name;
    j["shape"] = t.shape;
    j["datatype"] = InputDTypeName(t.dtype);
    if (t.dtype == InputDType::kFp32) {
      j["data"] = t.fp32;
    } else {
      j["data"] = t.int64;
    }
    out.push_back(std::move(j));
  }
  return out;
}

std::vector<NamedTensor> ModelInputsFromJson(const nlohmann::json& inputs) {
  if (!inputs.is_array()) {
    throw InvalidArgument(fmt::format("inputs: expected an array, got {}", inputs.type_name()));
  }
  std::vector<NamedTensor> out;
  out.reserve(inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    const nlohmann::json& j = inputs[i];
    const auto fail = [i](const std::string& field, const std::string& problem) {
      throw InvalidArgument(fmt::format("inputs[{}]{}: {}", i, field, problem));
    };
    if (!j.is_object()) fail("", fmt::format("expected an object, got {}", j.type_name()));
    const auto field = [&](const char* key) -> const nlohmann::json& {
      const auto it = j.find(key);
      if (it == j.end()) fail("", fmt::format("missing field '{}'", key));
      return *it;
    };
    NamedTensor t;
    const nlohmann::json& name = field("name");
    if (!name.is_string() || name.get_ref<const std::string&>().empty()) {
      fail(".name", "expected a non-empty string");
    }
    t.name = name.get<std::string>();
    const nlohmann::json& shape = field("shape");
    if (!shape.is_array())
      fail(".shape", fmt::format("expected an array, got {}", shape.type_name()));
    for (size_t k = 0; k < shape.size(); ++k) {
      if (!shape[k].is_number_integer() || shape[k].get<int64_t>() < 0) {
        fail(fmt::format(".shape[{}]", k),
             fmt::format("expected a non-negative integer, got {}", shape[k].dump()));
      }
      t.shape.push_back(shape[k].get<int64_t>());
    }
    const nlohmann::json& datatype = field("datatype");
    const std::string dt = datatype.is_string() ? datatype.get<std::string>() : datatype.dump();
    if (!ParseInputDType(dt, &t.dtype))
      fail(".datatype", fmt::format("expected FP32 or INT64, got '{}'", dt));
    const nlohmann::json& data = field("data");
    if (!data.is_array())
      fail(".data", fmt::format("expected a flat array, got {}", data.type_name()));
    const int64_t count = ShapeElementCount(fmt::format("inputs[{}].shape", i), t.shape);
    if (static_cast<int64_t>(data.size()) != count) {
      fail(".data",
           fmt::format("shape {} holds {} values, got {}", ShapeText(t.shape), count, data.size()));
    }
    if (t.dtype == InputDType::kFp32) {
      t.fp32.reserve(data.size());
      for (size_t k = 0; k < data.size(); ++k) {
        if (!data[k].is_number()) {
          fail(fmt::format(".data[{}]", k),
               fmt::format("expected a number, got {}", data[k].dump()));
        }
        t.fp32.push_back(static_cast<float>(data[k].get<double>()));
      }
    } else {
      t.int64.reserve(data.size());
      for (size_t k = 0; k < data.size(); ++k) {
        if (!data[k].is_number_integer() ||
            (data[k].is_number_unsigned() &&
             data[k].get<uint64_t>() >
                 static_cast<uint64_t>(std::numeric_limits<int64_t>::max()))) {
          fail(fmt::format(".data[{}]", k),
               fmt::format("expected a 64-bit integer, got {}", data[k].dump()));
        }
        t.int64.push_back(data[k].get<int64_t>());
      }
    }
    out.push_back(std::move(t));
  }
  return out;
}

}  // namespace crank
