#ifndef CRANK_LAYERS_INFERENCE_SCRATCH_H_
#define CRANK_LAYERS_INFERENCE_SCRATCH_H_

// InferenceScratch: the caller-owned intermediates of one block's const Predict.
//
// A block's Predict is const: it reads the block's variables and writes only its output and
// the scratch it is given. So one built block (and one model) serves any number of threads at
// once, each with its own scratch. A scratch is a numbered set of tensors plus numbered child
// scratches for nested blocks (an Mlp hands child(i) to its layer i); which index means what is
// the block's business, the caller only keeps the object alive between calls.
//
// Tensors keep their capacity (Tensor::Resize), so once a scratch has served the largest batch
// it will see, predicting does not allocate. References returned by tensor() and child() stay
// valid for the scratch's lifetime (later calls with other indices do not move them).
// Not thread-safe: one scratch per thread of control; a scratch may move between threads
// between calls.

#include <cstddef>
#include <deque>
#include <memory>
#include <vector>

#include "crank/tensor/tensor.h"

namespace crank {

class InferenceScratch {
 public:
  InferenceScratch() = default;
  InferenceScratch(const InferenceScratch&) = delete;
  InferenceScratch& operator=(const InferenceScratch&) = delete;
  InferenceScratch(InferenceScratch&&) noexcept = default;
  InferenceScratch& operator=(InferenceScratch&&) noexcept = default;

  // The i-th tensor, created empty on first use.
  Tensor& tensor(size_t i) {
    while (tensors_.size() <= i) tensors_.emplace_back();
    return tensors_[i];
  }

  // The i-th nested scratch, created empty on first use.
  InferenceScratch& child(size_t i) {
    while (children_.size() <= i) children_.push_back(std::make_unique<InferenceScratch>());
    return *children_[i];
  }

 private:
  std::deque<Tensor> tensors_;  // deque: growing does not move the elements
  std::vector<std::unique_ptr<InferenceScratch>> children_;
};

}  // namespace crank

#endif  // CRANK_LAYERS_INFERENCE_SCRATCH_H_
