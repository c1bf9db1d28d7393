#ifndef CRANK_PYTHON_NUMPY_INPUTS_H_
#define CRANK_PYTHON_NUMPY_INPUTS_H_

// Model-space inputs from numpy (docs/python.md, "Inputs from numpy") to a crank::Batch, and a
// Batch back to numpy arrays.
//
// For a model whose data is described by a DataSpec, the inputs are a dict:
//   "dense":      float32 (B, D)                        (absent when D == 0)
//   N:            int64 (B)                             single-hot feature N
//   N:            int64 (nnz) with "N.lengths" int64 (B) multi-hot feature N, optional
//                 "N.weights" float32 (nnz); N may also be a (values, lengths) tuple or a list
//                 of B arrays (a ragged batch)
//   "label":      float (B)                             training and evaluation only
//   "weight":     float (B)                             optional sample weights
// The arrays become model-space tensors (data/model_inputs.h) after the conversions that lose
// nothing (any integer dtype to int64, float64 or integer dense to float32; anything else
// raises TypeError), and ModelInputsToBatch validates them as it does for every front end:
// crank::InvalidArgument, a ValueError in Python, naming the input ("input 'C3': expected
// shape [4], got [5]"). The functions need the GIL.

#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>

#include "crank/data/data_spec.h"
#include "crank/tensor/batch.h"

namespace crank::python {

namespace py = pybind11;

enum class Labels { kOptional, kRequired, kIgnored };

// Fills *batch (buffers reused) from `inputs` for `spec`. `labels` and `sample_weight`, when
// not None, give the labels and sample weights (instead of the dict's "label" and "weight").
void DictToBatch(const py::dict& inputs, const py::object& labels, const py::object& sample_weight,
                 const DataSpec& spec, Labels need_labels, Batch* batch);

// The batch as a dict in the same layout (copies), including "label" and "weight" when the
// batch has them.
py::dict BatchToDict(const Batch& batch, const DataSpec& spec);

// A 1-D float32 numpy array that takes ownership of `tensor`'s buffer (a capsule frees it):
// no copy.
py::array_t<float> TensorToNumpy(Tensor&& tensor);

}  // namespace crank::python

#endif  // CRANK_PYTHON_NUMPY_INPUTS_H_
