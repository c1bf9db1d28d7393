#ifndef CRANK_TENSOR_TENSOR16_H_
#define CRANK_TENSOR_TENSOR16_H_

// A small owning, contiguous, row-major tensor of 16-bit values: the storage of an embedding
// table kept in bf16 or fp16 (kernels/embedding_precision.h says how the bits read; the owner
// knows which). Only storage and shape: arithmetic widens rows to float first. Copying copies the
// data. Not thread-safe for concurrent mutation.

#include <cstdint>
#include <vector>

namespace crank {

class Tensor16 {
 public:
  Tensor16() = default;
  // Zero-filled.
  explicit Tensor16(std::vector<int64_t> shape) { Resize(std::move(shape)); }

  // Changes the shape; contents are zero where new, kept where the element count is unchanged.
  void Resize(std::vector<int64_t> shape) {
    int64_t n = 1;
    for (int64_t d : shape) n *= d;
    shape_ = std::move(shape);
    data_.resize(static_cast<size_t>(n));
  }

  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t size() const { return static_cast<int64_t>(data_.size()); }
  // For rank-2 tensors: columns (a rank-1 tensor is one row).
  int64_t cols() const { return rank() >= 2 ? shape_.back() : size(); }

  uint16_t* data() { return data_.data(); }
  const uint16_t* data() const { return data_.data(); }
  uint16_t* row(int64_t r) { return data() + r * cols(); }
  const uint16_t* row(int64_t r) const { return data() + r * cols(); }

 private:
  std::vector<int64_t> shape_;
  std::vector<uint16_t> data_;
};

}  // namespace crank

#endif  // CRANK_TENSOR_TENSOR16_H_
