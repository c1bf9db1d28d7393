#include "numpy_inputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/model_inputs.h"

namespace crank::python {
namespace {

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string TypeName(const py::handle& obj) { return py::str(obj.get_type().attr("__name__")); }

// `obj` as a numpy array; TypeError for what is not one.
py::array AsArray(const py::object& obj, const std::string& name) {
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj) || obj.is_none() ||
      py::isinstance<py::dict>(obj)) {
    throw py::type_error(
        fmt::format("input '{}': expected a numpy array, got {}", name, TypeName(obj)));
  }
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(fmt::format("input '{}': cannot be read as a numpy array", name));
  }
  return a;
}

std::vector<int64_t> Shape(const py::array& a) {
  return std::vector<int64_t>(a.shape(), a.shape() + a.ndim());
}

// Integer ids of any integer dtype, as INT64; TypeError for any other dtype (converting
// floats, booleans or objects to ids could change them).
IdArray AsIds(const py::object& obj, const std::string& name) {
  py::array a = AsArray(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(
        fmt::format("input '{}': expected integer ids (INT64), got dtype {}; they are not "
                    "converted because that could change them",
                    name, std::string(py::str(a.dtype()))));
  }
  return IdArray::ensure(a);
}

// Floating or integer values as FP32; TypeError for booleans, complex numbers and objects.
FloatArray AsFloats(const py::object& obj, const std::string& name) {
  py::array a = AsArray(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw py::type_error(fmt::format("input '{}': expected float32 values (FP32), got dtype {}",
                                     name, std::string(py::str(a.dtype()))));
  }
  return FloatArray::ensure(a);
}

NamedTensor IdTensor(const std::string& name, const IdArray& a) {
  NamedTensor t{name, InputDType::kInt64, Shape(a), {}, {}};
  t.int64.assign(a.data(), a.data() + a.size());
  return t;
}

NamedTensor FloatTensor(const std::string& name, const FloatArray& a) {
  NamedTensor t{name, InputDType::kFp32, Shape(a), {}, {}};
  t.fp32.assign(a.data(), a.data() + a.size());
  return t;
}

// A multi-hot feature given as a list of B id arrays (a ragged batch): N and N.lengths.
void AppendRagged(const std::string& name, const py::list& rows, std::vector<NamedTensor>* out) {
  NamedTensor ids{name, InputDType::kInt64, {0}, {}, {}};
  NamedTensor lengths{name + ".lengths", InputDType::kInt64, {0}, {}, {}};
  for (size_t b = 0; b < rows.size(); ++b) {
    const std::string row_name = fmt::format("{}[{}]", name, b);
    IdArray r = AsIds(rows[b], row_name);
    if (r.ndim() != 1) {
      throw InvalidArgument(fmt::format("input '{}': expected shape [n], got [{}]", row_name,
                                        fmt::join(Shape(r), ", ")));
    }
    ids.int64.insert(ids.int64.end(), r.data(), r.data() + r.size());
    lengths.int64.push_back(r.size());
  }
  ids.shape = {static_cast<int64_t>(ids.int64.size())};
  lengths.shape = {static_cast<int64_t>(lengths.int64.size())};
  out->push_back(std::move(ids));
  out->push_back(std::move(lengths));
}

bool EndsWith(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() &&
         s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

void ReadFloatVector(const py::object& obj, const std::string& name, int64_t b, Tensor* out) {
  FloatArray a = AsFloats(obj, name);
  if (a.ndim() != 1 || a.shape(0) != b) {
    throw InvalidArgument(fmt::format("input '{}': expected shape [{}], got [{}]", name, b,
                                      fmt::join(Shape(a), ", ")));
  }
  out->Resize({b});
  if (b > 0) std::memcpy(out->data(), a.data(), static_cast<size_t>(b) * sizeof(float));
}

py::array NumpyOf(const NamedTensor& t) {
  std::vector<py::ssize_t> shape(t.shape.begin(), t.shape.end());
  if (t.dtype == InputDType::kFp32) {
    py::array_t<float> a(shape);
    if (!t.fp32.empty()) std::memcpy(a.mutable_data(), t.fp32.data(), t.fp32.size() * 4);
    return std::move(a);
  }
  py::array_t<int64_t> a(shape);
  if (!t.int64.empty()) std::memcpy(a.mutable_data(), t.int64.data(), t.int64.size() * 8);
  return std::move(a);
}

}  // namespace

void DictToBatch(const py::dict& inputs, const py::object& labels, const py::object& sample_weight,
                 const DataSpec& spec, Labels need_labels, Batch* batch) {
  // numpy -> model-space tensors (dtype conversions, multi-hot tuples and ragged lists), then
  // ModelInputsToBatch validates names, shapes, ids and lengths as for every front end.
  std::vector<NamedTensor> tensors;
  for (const auto& [key, value] : inputs) {
    if (!py::isinstance<py::str>(key)) {
      throw py::type_error(
          fmt::format("input names must be strings, got {}", std::string(py::repr(key))));
    }
    const std::string name = py::cast<std::string>(key);
    if (name == "label" || name == "weight") continue;
    py::object v = py::reinterpret_borrow<py::object>(value);
    const bool floats = name == "dense" || EndsWith(name, ".weights");
    if (!floats && py::isinstance<py::tuple>(v)) {
      py::tuple t = v;
      if (t.size() != 2) {
        throw InvalidArgument(
            fmt::format("input '{}': a multi-hot tuple is (values, row_lengths), got {} items",
                        name, t.size()));
      }
      tensors.push_back(IdTensor(name, AsIds(t[0], name)));
      tensors.push_back(IdTensor(name + ".lengths", AsIds(t[1], name + ".lengths")));
    } else if (!floats && py::isinstance<py::list>(v)) {
      AppendRagged(name, v, &tensors);
    } else if (floats) {
      tensors.push_back(FloatTensor(name, AsFloats(v, name)));
    } else {
      tensors.push_back(IdTensor(name, AsIds(v, name)));
    }
  }
  *batch = ModelInputsToBatch(tensors, spec);
  const int64_t b = batch->size();

  py::object label_obj = labels;
  if (label_obj.is_none() && inputs.contains("label")) label_obj = inputs["label"];
  py::object weight_obj = sample_weight;
  if (weight_obj.is_none() && inputs.contains("weight")) weight_obj = inputs["weight"];
  if (need_labels == Labels::kIgnored) return;
  if (label_obj.is_none()) {
    if (need_labels == Labels::kRequired) {
      throw InvalidArgument(
          fmt::format("input 'label': missing (FP32, shape [{}]); training needs labels", b));
    }
  } else {
    ReadFloatVector(label_obj, "label", b, &batch->labels);
  }
  if (!weight_obj.is_none()) ReadFloatVector(weight_obj, "weight", b, &batch->weights);
}

py::dict BatchToDict(const Batch& batch, const DataSpec& spec) {
  py::dict d;
  for (const NamedTensor& t : BatchToModelInputs(batch, spec)) d[py::str(t.name)] = NumpyOf(t);
  if (!batch.labels.empty()) {
    py::array_t<float> l(batch.labels.size());
    std::memcpy(l.mutable_data(), batch.labels.data(), batch.labels.size() * sizeof(float));
    d["label"] = l;
  }
  if (!batch.weights.empty()) {
    py::array_t<float> w(batch.weights.size());
    std::memcpy(w.mutable_data(), batch.weights.data(), batch.weights.size() * sizeof(float));
    d["weight"] = w;
  }
  return d;
}

py::array_t<float> TensorToNumpy(Tensor&& tensor) {
  auto* owned = new Tensor(std::move(tensor));
  py::capsule owner(owned, [](void* p) { delete static_cast<Tensor*>(p); });
  return py::array_t<float>({owned->size()}, {static_cast<py::ssize_t>(sizeof(float))},
                            owned->data(), owner);
}

}  // namespace crank::python
