#ifndef CRANK_DATA_MODEL_INPUTS_H_
#define CRANK_DATA_MODEL_INPUTS_H_

// The model-space inputs of a model: the named, typed tensors that an exported ONNX graph
// declares, that `crank map` writes, that `crank serve` accepts as typed tensors and that the
// Python `predict` takes as a dict. For a model whose data spec is `spec`:
//
//   dense        FP32  [B, D]   dense features, already transformed (omitted when D == 0)
//   then, for each sparse feature N in DataSpec order (sorted names):
//   N            INT64 [B]      single-hot: one id per example
//   N            INT64 [nnz]    multi-hot: every id of the batch, example after example
//   N.lengths    INT64 [B]      multi-hot: ids per example (0 = empty bag)
//   N.weights    FP32  [nnz]    multi-hot, optional: per-id weights (absent = all 1)
//
// Ids lie in [0, vocabulary_size). Conversions to and from a Batch and to and from the "inputs"
// array of an Open Inference Protocol request body ({"name", "shape", "datatype", "data"}, data
// flat and row-major). Every conversion validates its input and throws crank::InvalidArgument
// naming the input (or inputs[i] and the field) and the problem. Stateless and thread-safe.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/data_spec.h"
#include "crank/tensor/batch.h"

namespace crank {

enum class InputDType { kFp32, kInt64 };

// "FP32" / "INT64" (the Open Inference Protocol datatype names).
const char* InputDTypeName(InputDType dtype);
// The datatype named `name` ("FP32" / "INT64"); false for any other name.
bool ParseInputDType(std::string_view name, InputDType* dtype);

struct InputSpec {
  std::string name;
  InputDType dtype = InputDType::kFp32;
  std::vector<int64_t> shape;  // -1 = dynamic (B or nnz)
};

// The required inputs of a model with this data spec, in order (N.weights is optional and not
// listed; see OptionalWeightsSpec).
std::vector<InputSpec> ModelInputSpecs(const DataSpec& spec);
// The optional per-id weights input of multi-hot feature `feature` ("N.weights", FP32 [-1]).
InputSpec OptionalWeightsSpec(const std::string& feature);

struct NamedTensor {
  std::string name;
  InputDType dtype = InputDType::kFp32;
  std::vector<int64_t> shape;
  std::vector<float> fp32;     // the data when dtype == kFp32, row-major
  std::vector<int64_t> int64;  // the data when dtype == kInt64
};

// The number of values a tensor of `shape` holds. Throws InvalidArgument for a negative
// dimension or a product past int64 ("WHERE: shape [3, -1] has a negative dimension").
int64_t ShapeElementCount(const std::string& where, const std::vector<int64_t>& shape);

// The model-space tensors of `batch` (labels and sample weights are not inputs). N.weights is
// emitted for a multi-hot feature whose batch carries per-id weights. Throws InvalidArgument
// when the batch does not fit the spec (feature count, dense width, a single-hot feature
// without exactly one id per example).
std::vector<NamedTensor> BatchToModelInputs(const Batch& batch, const DataSpec& spec);

// The Batch the model consumes (no labels, no sample weights). Validates everything: unknown,
// missing or duplicate names, datatypes, shapes against the data size and against the spec,
// ids out of range, lengths that are negative or do not sum to nnz, B disagreeing between
// inputs. Non-finite dense values and weights are passed through as the model allows them.
// Example message: "input 'C3': expected shape [4], got [5]".
Batch ModelInputsToBatch(const std::vector<NamedTensor>& inputs, const DataSpec& spec);

// The "inputs" array of an Open Inference Protocol request body.
nlohmann::json ModelInputsToJson(const std::vector<NamedTensor>& inputs);
// Parses such an array (the field checks only; ModelInputsToBatch checks against a model).
// Throws InvalidArgument naming inputs[i] and the field, e.g.
// "inputs[2].datatype: expected FP32 or INT64, got 'BYTES'".
std::vector<NamedTensor> ModelInputsFromJson(const nlohmann::json& inputs);

}  // namespace crank

#endif  // CRANK_DATA_MODEL_INPUTS_H_
