#ifndef CRANK_TENSOR_TENSOR_H_
#define CRANK_TENSOR_TENSOR_H_

// A small owning, contiguous, row-major float tensor of rank 0..4.
//
// Storage is 64-byte aligned so kernels can use aligned vector loads; storage of 2 MiB or more
// starts on a 2 MiB boundary and is advised for transparent huge pages (embedding tables and
// their optimizer state: fewer page faults and TLB misses). Copying copies the data.
// Resize() keeps capacity, so a tensor reused across steps allocates only when it grows
// (steady-state training does not allocate). Not thread-safe for concurrent mutation.

#include <cstdint>
#include <initializer_list>
#include <memory>
#include <string>
#include <vector>

namespace crank {

class Tensor {
 public:
  Tensor() = default;
  explicit Tensor(std::vector<int64_t> shape);  // zero-filled
  Tensor(std::vector<int64_t> shape, std::initializer_list<float> values);
  Tensor(std::vector<int64_t> shape, const std::vector<float>& values);

  Tensor(const Tensor& other);
  Tensor& operator=(const Tensor& other);
  Tensor(Tensor&& other) noexcept = default;
  Tensor& operator=(Tensor&& other) noexcept = default;

  // Changes the shape; keeps the buffer when it is large enough. Contents are unspecified
  // unless the element count is unchanged (then data is preserved).
  void Resize(const std::vector<int64_t>& shape);
  // Resize + fill with zeros.
  void ResizeZero(const std::vector<int64_t>& shape);
  void Fill(float v);
  void SetZero() { Fill(0.0f); }

  const std::vector<int64_t>& shape() const { return shape_; }
  int rank() const { return static_cast<int>(shape_.size()); }
  int64_t dim(int i) const { return shape_[static_cast<size_t>(i)]; }
  int64_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // For rank-2 tensors: rows and columns. A rank-1 tensor is one row.
  int64_t rows() const { return rank() >= 2 ? shape_[0] : 1; }
  int64_t cols() const { return rank() >= 2 ? size_ / (shape_[0] ? shape_[0] : 1) : size_; }

  float* data() { return data_.get(); }
  const float* data() const { return data_.get(); }
  float& operator[](int64_t i) { return data_[static_cast<size_t>(i)]; }
  float operator[](int64_t i) const { return data_[static_cast<size_t>(i)]; }
  float& at(int64_t r, int64_t c) { return data_[static_cast<size_t>(r * shape_.back() + c)]; }
  float at(int64_t r, int64_t c) const { return data_[static_cast<size_t>(r * shape_.back() + c)]; }
  float* row(int64_t r) { return data() + r * cols(); }
  const float* row(int64_t r) const { return data() + r * cols(); }

  std::vector<float> ToVector() const { return std::vector<float>(data(), data() + size_); }
  std::string ShapeString() const;

 private:
  struct Free {
    void operator()(float* p) const;
  };
  std::vector<int64_t> shape_;
  int64_t size_ = 0;
  int64_t capacity_ = 0;
  std::unique_ptr<float[], Free> data_;
};

// "(2, 3)" for error messages.
std::string ShapeToString(const std::vector<int64_t>& shape);

}  // namespace crank

#endif  // CRANK_TENSOR_TENSOR_H_
