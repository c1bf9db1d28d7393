#include "crank/export/onnx_graph.h"

#include <fmt/format.h>

#include <algorithm>
#include <utility>

namespace crank::onnx_graph {
namespace {

void SetValueInfo(onnx::ValueInfoProto* v, const std::string& name,
                  onnx::TensorProto::DataType type, const std::vector<int64_t>& dims,
                  const std::vector<std::string>& dim_params) {
  v->set_name(name);
  onnx::TypeProto_Tensor* t = v->mutable_type()->mutable_tensor_type();
  t->set_elem_type(type);
  onnx::TensorShapeProto* shape = t->mutable_shape();
  size_t symbolic = 0;
  for (const int64_t d : dims) {
    onnx::TensorShapeProto_Dimension* dim = shape->add_dim();
    if (d >= 0) {
      dim->set_dim_value(d);
    } else {
      dim->set_dim_param(dim_params.at(symbolic++));
    }
  }
}

}  // namespace

Attr IntAttr(std::string name, int64_t value) {
  Attr a;
  a.name = std::move(name);
  a.kind = Attr::Kind::kInt;
  a.i = value;
  return a;
}
Attr FloatAttr(std::string name, float value) {
  Attr a;
  a.name = std::move(name);
  a.kind = Attr::Kind::kFloat;
  a.f = value;
  return a;
}
Attr StringAttr(std::string name, std::string value) {
  Attr a;
  a.name = std::move(name);
  a.kind = Attr::Kind::kString;
  a.s = std::move(value);
  return a;
}
Attr IntsAttr(std::string name, std::vector<int64_t> values) {
  Attr a;
  a.name = std::move(name);
  a.kind = Attr::Kind::kInts;
  a.ints = std::move(values);
  return a;
}

std::string GraphBuilder::Unique(const std::string& hint) {
  std::string name = hint;
  for (int k = 1; std::find(used_.begin(), used_.end(), name) != used_.end(); ++k) {
    name = fmt::format("{}_{}", hint, k);
  }
  used_.push_back(name);
  return name;
}

std::string GraphBuilder::Op(const std::string& op, const std::vector<std::string>& inputs,
                             const std::string& hint, const std::vector<Attr>& attrs) {
  const std::string out = Unique(hint);
  onnx::NodeProto* node = graph_->add_node();
  node->set_op_type(op);
  node->set_name(out);
  for (const std::string& in : inputs) node->add_input(in);
  node->add_output(out);
  for (const Attr& a : attrs) {
    onnx::AttributeProto* p = node->add_attribute();
    p->set_name(a.name);
    switch (a.kind) {
      case Attr::Kind::kInt:
        p->set_type(onnx::AttributeProto::INT);
        p->set_i(a.i);
        break;
      case Attr::Kind::kFloat:
        p->set_type(onnx::AttributeProto::FLOAT);
        p->set_f(a.f);
        break;
      case Attr::Kind::kString:
        p->set_type(onnx::AttributeProto::STRING);
        p->set_s(a.s);
        break;
      case Attr::Kind::kInts:
        p->set_type(onnx::AttributeProto::INTS);
        for (const int64_t v : a.ints) p->add_ints(v);
        break;
    }
  }
  return out;
}

onnx::TensorProto* GraphBuilder::AddInitializer(const std::string& hint,
                                                onnx::TensorProto::DataType type,
                                                const std::vector<int64_t>& dims) {
  onnx::TensorProto* t = graph_->add_initializer();
  t->set_name(Unique(hint));
  t->set_data_type(type);
  for (const int64_t d : dims) t->add_dims(d);
  return t;
}

std::string GraphBuilder::Raw(const std::string& hint, onnx::TensorProto::DataType type,
                              const std::vector<int64_t>& dims, const void* data,
                              size_t element_bytes) {
  onnx::TensorProto* t = AddInitializer(hint, type, dims);
  int64_t n = 1;
  for (const int64_t d : dims) n *= d;
  // raw_data is little-endian, as the host's values.
  t->set_raw_data(static_cast<const char*>(data), static_cast<size_t>(n) * element_bytes);
  return t->name();
}

std::string GraphBuilder::Floats(const std::string& hint, const std::vector<int64_t>& dims,
                                 const float* data) {
  return Raw(hint, onnx::TensorProto::FLOAT, dims, data, sizeof(float));
}

std::string GraphBuilder::Halves(const std::string& hint, const std::vector<int64_t>& dims,
                                 const uint16_t* data) {
  return Raw(hint, onnx::TensorProto::FLOAT16, dims, data, sizeof(uint16_t));
}

std::string GraphBuilder::Int64s(const std::string& hint, const std::vector<int64_t>& dims,
                                 const std::vector<int64_t>& values) {
  onnx::TensorProto* t = AddInitializer(hint, onnx::TensorProto::INT64, dims);
  for (const int64_t v : values) t->add_int64_data(v);
  return t->name();
}

std::string GraphBuilder::Bools(const std::string& hint, const std::vector<int64_t>& dims,
                                const std::vector<bool>& values) {
  onnx::TensorProto* t = AddInitializer(hint, onnx::TensorProto::BOOL, dims);
  for (const bool v : values) t->add_int32_data(v ? 1 : 0);
  return t->name();
}

std::string GraphBuilder::Doubles(const std::string& hint, const std::vector<int64_t>& dims,
                                  const std::vector<double>& values) {
  onnx::TensorProto* t = AddInitializer(hint, onnx::TensorProto::DOUBLE, dims);
  for (const double v : values) t->add_double_data(v);
  return t->name();
}

void GraphBuilder::Input(const std::string& name, onnx::TensorProto::DataType type,
                         const std::vector<int64_t>& dims,
                         const std::vector<std::string>& dim_params) {
  used_.push_back(name);
  SetValueInfo(graph_->add_input(), name, type, dims, dim_params);
}

void GraphBuilder::Output(const std::string& name, onnx::TensorProto::DataType type,
                          const std::vector<int64_t>& dims,
                          const std::vector<std::string>& dim_params) {
  SetValueInfo(graph_->add_output(), name, type, dims, dim_params);
}

}  // namespace crank::onnx_graph
