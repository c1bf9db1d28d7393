#include "numpy_inputs.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <cstring>
#include <set>
#include <string>
#include <vector>

#include "crank/base/error.h"

namespace crank::python {
namespace {

using IdArray = py::array_t<int64_t, py::array::c_style | py::array::forcecast>;
using FloatArray = py::array_t<float, py::array::c_style | py::array::forcecast>;

std::string ShapeText(const py::array& a) {
  std::vector<int64_t> s(a.shape(), a.shape() + a.ndim());
  return fmt::format("[{}]", fmt::join(s, ", "));
}

// `obj` as an array of the given kind; TypeError when the dtype cannot be converted safely.
py::array AsArray(const py::object& obj, const std::string& name) {
  if (py::isinstance<py::str>(obj) || py::isinstance<py::bytes>(obj) || obj.is_none()) {
    throw py::type_error(fmt::format("input '{}': expected a numpy array, got {}", name,
                                     std::string(py::str(obj.get_type().attr("__name__")))));
  }
  py::array a = py::array::ensure(obj);
  if (!a) {
    PyErr_Clear();
    throw py::type_error(fmt::format("input '{}': cannot be read as a numpy array", name));
  }
  return a;
}

IdArray AsIds(const py::object& obj, const std::string& name) {
  py::array a = AsArray(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'i' && kind != 'u') {
    throw py::type_error(fmt::format(
        "input '{}': expected integer ids (INT64), got dtype {}; ids are not converted from "
        "{} because that could change them",
        name, std::string(py::str(a.dtype())), std::string(py::str(a.dtype()))));
  }
  return IdArray::ensure(a);
}

FloatArray AsFloats(const py::object& obj, const std::string& name) {
  py::array a = AsArray(obj, name);
  const char kind = a.dtype().kind();
  if (kind != 'f' && kind != 'i' && kind != 'u') {
    throw py::type_error(fmt::format("input '{}': expected float32 values (FP32), got dtype {}",
                                     name, std::string(py::str(a.dtype()))));
  }
  return FloatArray::ensure(a);
}

void RequireShape1(const py::array& a, int64_t expected, const std::string& name,
                   const char* what_expected) {
  if (a.ndim() != 1 || (expected >= 0 && a.shape(0) != expected)) {
    throw InvalidArgument(fmt::format("input '{}': expected shape [{}], got {}", name,
                                      expected >= 0 ? std::to_string(expected) : what_expected,
                                      ShapeText(a)));
  }
}

// The batch size every input must agree on; set by the first input that gives it.
struct BatchSize {
  int64_t b = -1;
  std::string from;

  void Agree(int64_t n, const std::string& name) {
    if (b < 0) {
      b = n;
      from = name;
    } else if (n != b) {
      throw InvalidArgument(
          fmt::format("input '{}': expected shape [{}] (the batch size of input '{}'), got [{}]",
                      name, b, from, n));
    }
  }
};

void CopyIds(const IdArray& ids, const SparseFeatureSpec& f, const std::string& name,
             std::vector<int64_t>* out) {
  const int64_t n = ids.shape(0);
  const int64_t* p = ids.data();
  out->resize(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    if (p[i] < 0 || p[i] >= f.vocabulary_size) [[unlikely]] {
      throw InvalidArgument(fmt::format("input '{}': id {} at position {} is outside [0, {})", name,
                                        p[i], i, f.vocabulary_size));
    }
  }
  if (n > 0) std::memcpy(out->data(), p, static_cast<size_t>(n) * sizeof(int64_t));
}

void LengthsToOffsets(const IdArray& lengths, int64_t nnz, const std::string& name,
                      std::vector<int64_t>* offsets) {
  const int64_t b = lengths.shape(0);
  const int64_t* p = lengths.data();
  offsets->resize(static_cast<size_t>(b + 1));
  (*offsets)[0] = 0;
  for (int64_t i = 0; i < b; ++i) {
    if (p[i] < 0) {
      throw InvalidArgument(
          fmt::format("input '{}.lengths': length {} of example {} is negative", name, p[i], i));
    }
    (*offsets)[static_cast<size_t>(i + 1)] = (*offsets)[static_cast<size_t>(i)] + p[i];
  }
  if (offsets->back() != nnz) {
    throw InvalidArgument(fmt::format(
        "input '{}.lengths': the lengths sum to {}, but input '{}' has {} ids (shape [{}])", name,
        offsets->back(), name, nnz, nnz));
  }
}

void ReadFloatVector(const py::object& obj, const std::string& name, BatchSize* bs, Tensor* out) {
  FloatArray a = AsFloats(obj, name);
  RequireShape1(a, bs->b, name, "B");
  bs->Agree(a.shape(0), name);
  out->Resize({a.shape(0)});
  if (a.shape(0) > 0) std::memcpy(out->data(), a.data(), a.shape(0) * sizeof(float));
}

}  // namespace

void DictToBatch(const py::dict& inputs, const py::object& labels, const py::object& sample_weight,
                 const DataSpec& spec, Labels need_labels, Batch* batch) {
  // Every key must be known.
  std::set<std::string> known;
  if (spec.num_dense() > 0) known.insert("dense");
  for (const SparseFeatureSpec& f : spec.sparse) {
    known.insert(f.name);
    if (f.multi_hot) {
      known.insert(f.name + ".lengths");
      known.insert(f.name + ".weights");
    }
  }
  known.insert("label");
  known.insert("weight");
  for (const auto& item : inputs) {
    if (!py::isinstance<py::str>(item.first)) {
      throw py::type_error(
          fmt::format("input names must be strings, got {}", std::string(py::repr(item.first))));
    }
    const std::string key = py::cast<std::string>(item.first);
    if (!known.count(key)) {
      std::vector<std::string> names;
      if (spec.num_dense() > 0) names.push_back("dense");
      for (const SparseFeatureSpec& f : spec.sparse) names.push_back(f.name);
      throw InvalidArgument(fmt::format("input '{}': the model has no such input (its inputs: {})",
                                        key, fmt::join(names, ", ")));
    }
  }

  BatchSize bs;
  // dense (B, D)
  if (spec.num_dense() > 0) {
    if (!inputs.contains("dense")) {
      throw InvalidArgument(
          fmt::format("input 'dense': missing (FP32, shape [B, {}])", spec.num_dense()));
    }
    FloatArray d = AsFloats(inputs["dense"], "dense");
    if (d.ndim() != 2 || d.shape(1) != spec.num_dense()) {
      throw InvalidArgument(fmt::format("input 'dense': expected shape [B, {}], got {}",
                                        spec.num_dense(), ShapeText(d)));
    }
    bs.Agree(d.shape(0), "dense");
    batch->dense.Resize({d.shape(0), d.shape(1)});
    if (d.size() > 0) std::memcpy(batch->dense.data(), d.data(), d.size() * sizeof(float));
  }

  // Sparse features, in spec order.
  batch->sparse.resize(spec.sparse.size());
  for (size_t fi = 0; fi < spec.sparse.size(); ++fi) {
    const SparseFeatureSpec& f = spec.sparse[fi];
    SparseFeature& out = batch->sparse[fi];
    out.weights.clear();
    if (!inputs.contains(f.name)) {
      throw InvalidArgument(fmt::format("input '{}': missing (INT64, shape [{}])", f.name,
                                        f.multi_hot ? "nnz" : "B"));
    }
    py::object v = inputs[f.name.c_str()];
    if (!f.multi_hot) {
      IdArray ids = AsIds(v, f.name);
      RequireShape1(ids, bs.b, f.name, "B");
      bs.Agree(ids.shape(0), f.name);
      CopyIds(ids, f, f.name, &out.ids);
      out.offsets.resize(out.ids.size() + 1);
      for (size_t i = 0; i < out.offsets.size(); ++i) out.offsets[i] = static_cast<int64_t>(i);
      continue;
    }
    // Multi-hot: (values, lengths), a list of B arrays, or values with "N.lengths".
    const std::string lengths_key = f.name + ".lengths";
    if (py::isinstance<py::tuple>(v)) {
      py::tuple t = v;
      if (t.size() != 2) {
        throw InvalidArgument(fmt::format(
            "input '{}': a multi-hot tuple is (values, lengths), got {} items", f.name, t.size()));
      }
      if (inputs.contains(lengths_key)) {
        throw InvalidArgument(fmt::format(
            "input '{}': lengths given twice (in the tuple and as '{}')", f.name, lengths_key));
      }
      IdArray ids = AsIds(t[0], f.name);
      RequireShape1(ids, -1, f.name, "nnz");
      IdArray lengths = AsIds(t[1], lengths_key);
      RequireShape1(lengths, bs.b, lengths_key, "B");
      bs.Agree(lengths.shape(0), lengths_key);
      CopyIds(ids, f, f.name, &out.ids);
      LengthsToOffsets(lengths, ids.shape(0), f.name, &out.offsets);
    } else if (py::isinstance<py::list>(v)) {
      py::list rows = v;
      bs.Agree(static_cast<int64_t>(rows.size()), f.name);
      out.ids.clear();
      out.offsets.assign(1, 0);
      std::vector<int64_t> row_ids;
      for (size_t b = 0; b < rows.size(); ++b) {
        const std::string row_name = fmt::format("{}[{}]", f.name, b);
        IdArray r = AsIds(rows[b], row_name);
        if (r.ndim() != 1) {
          throw InvalidArgument(
              fmt::format("input '{}': expected shape [n], got {}", row_name, ShapeText(r)));
        }
        CopyIds(r, f, row_name, &row_ids);
        out.ids.insert(out.ids.end(), row_ids.begin(), row_ids.end());
        out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
      }
    } else {
      if (!inputs.contains(lengths_key)) {
        throw InvalidArgument(fmt::format(
            "input '{}.lengths': missing (INT64, shape [B]); a multi-hot feature needs its "
            "lengths",
            f.name));
      }
      IdArray ids = AsIds(v, f.name);
      RequireShape1(ids, -1, f.name, "nnz");
      IdArray lengths = AsIds(inputs[lengths_key.c_str()], lengths_key);
      RequireShape1(lengths, bs.b, lengths_key, "B");
      bs.Agree(lengths.shape(0), lengths_key);
      CopyIds(ids, f, f.name, &out.ids);
      LengthsToOffsets(lengths, ids.shape(0), f.name, &out.offsets);
    }
    const std::string weights_key = f.name + ".weights";
    if (inputs.contains(weights_key)) {
      FloatArray w = AsFloats(inputs[weights_key.c_str()], weights_key);
      RequireShape1(w, static_cast<int64_t>(out.ids.size()), weights_key, "nnz");
      out.weights.assign(w.data(), w.data() + w.shape(0));
    }
  }
  if (bs.b < 0) {
    throw InvalidArgument("inputs: the model has no inputs to take the batch size from");
  }
  if (spec.num_dense() == 0) batch->dense.Resize({bs.b, 0});

  // Labels and sample weights.
  py::object label_obj = labels;
  if (label_obj.is_none() && inputs.contains("label")) label_obj = inputs["label"];
  py::object weight_obj = sample_weight;
  if (weight_obj.is_none() && inputs.contains("weight")) weight_obj = inputs["weight"];
  batch->labels.Resize({0});
  batch->weights.Resize({0});
  if (need_labels == Labels::kIgnored) return;
  if (label_obj.is_none()) {
    if (need_labels == Labels::kRequired) {
      throw InvalidArgument(
          fmt::format("input 'label': missing (FP32, shape [{}]); training needs labels", bs.b));
    }
  } else {
    ReadFloatVector(label_obj, "label", &bs, &batch->labels);
  }
  if (!weight_obj.is_none()) ReadFloatVector(weight_obj, "weight", &bs, &batch->weights);
}

py::dict BatchToDict(const Batch& batch, const DataSpec& spec) {
  py::dict d;
  const int64_t b = batch.size();
  if (spec.num_dense() > 0) {
    py::array_t<float> dense({b, spec.num_dense()});
    std::memcpy(dense.mutable_data(), batch.dense.data(), batch.dense.size() * sizeof(float));
    d["dense"] = dense;
  }
  for (size_t fi = 0; fi < spec.sparse.size(); ++fi) {
    const SparseFeatureSpec& f = spec.sparse[fi];
    const SparseFeature& s = batch.sparse[fi];
    py::array_t<int64_t> ids(static_cast<py::ssize_t>(s.ids.size()));
    if (!s.ids.empty()) std::memcpy(ids.mutable_data(), s.ids.data(), s.ids.size() * 8);
    d[py::str(f.name)] = ids;
    if (f.multi_hot) {
      py::array_t<int64_t> lengths(b);
      int64_t* l = lengths.mutable_data();
      for (int64_t i = 0; i < b; ++i) l[i] = s.offsets[i + 1] - s.offsets[i];
      d[py::str(f.name + ".lengths")] = lengths;
      if (!s.weights.empty()) {
        py::array_t<float> w(static_cast<py::ssize_t>(s.weights.size()));
        std::memcpy(w.mutable_data(), s.weights.data(), s.weights.size() * sizeof(float));
        d[py::str(f.name + ".weights")] = w;
      }
    }
  }
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
