#ifndef CRANK_EXPORT_ONNX_GRAPH_H_
#define CRANK_EXPORT_ONNX_GRAPH_H_

// A small builder over ONNX's generated protobuf classes (Debian's libonnx-dev): nodes with
// generated unique output names, initializers (weights and constant index tensors) and typed
// graph inputs and outputs. It writes only the GraphProto it is given and knows nothing of
// crank's model; onnx_export.cc describes the model with it. Not thread-safe.

#include <onnx/onnx_pb.h>

#include <cstdint>
#include <string>
#include <vector>

namespace crank::onnx_graph {

// One node attribute: an integer, a float, a string or a list of integers.
struct Attr {
  std::string name;
  enum class Kind { kInt, kFloat, kString, kInts } kind = Kind::kInt;
  int64_t i = 0;
  float f = 0;
  std::string s;
  std::vector<int64_t> ints;
};
Attr IntAttr(std::string name, int64_t value);
Attr FloatAttr(std::string name, float value);
Attr StringAttr(std::string name, std::string value);
Attr IntsAttr(std::string name, std::vector<int64_t> values);

class GraphBuilder {
 public:
  explicit GraphBuilder(onnx::GraphProto* graph) : graph_(graph) {}

  // Adds `op` with `inputs` and one output named after `hint` (unique); returns that name.
  std::string Op(const std::string& op, const std::vector<std::string>& inputs,
                 const std::string& hint, const std::vector<Attr>& attrs = {});

  // Initializers; each returns its (unique, hint-based) name.
  std::string Floats(const std::string& hint, const std::vector<int64_t>& dims, const float* data);
  // An IEEE binary16 initializer from the values' bits.
  std::string Halves(const std::string& hint, const std::vector<int64_t>& dims,
                     const uint16_t* data);
  std::string Int64s(const std::string& hint, const std::vector<int64_t>& dims,
                     const std::vector<int64_t>& values);
  std::string Bools(const std::string& hint, const std::vector<int64_t>& dims,
                    const std::vector<bool>& values);
  std::string Doubles(const std::string& hint, const std::vector<int64_t>& dims,
                      const std::vector<double>& values);

  // Graph inputs and outputs. A negative dimension is symbolic, named by `dim_params` in order.
  void Input(const std::string& name, onnx::TensorProto::DataType type,
             const std::vector<int64_t>& dims, const std::vector<std::string>& dim_params);
  void Output(const std::string& name, onnx::TensorProto::DataType type,
              const std::vector<int64_t>& dims, const std::vector<std::string>& dim_params);

 private:
  std::string Unique(const std::string& hint);
  // An initializer of n = product(dims) values of element_bytes each, copied from data.
  std::string Raw(const std::string& hint, onnx::TensorProto::DataType type,
                  const std::vector<int64_t>& dims, const void* data, size_t element_bytes);
  onnx::TensorProto* AddInitializer(const std::string& hint, onnx::TensorProto::DataType type,
                                    const std::vector<int64_t>& dims);

  onnx::GraphProto* graph_;
  std::vector<std::string> used_;
};

}  // namespace crank::onnx_graph

#endif  // CRANK_EXPORT_ONNX_GRAPH_H_
