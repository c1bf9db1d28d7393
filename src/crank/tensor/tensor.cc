#include "crank/tensor/tensor.h"

#include <cstdlib>
#include <cstring>
#include <new>

#include "crank/base/error.h"
#include "crank/base/system_memory.h"

namespace crank {
namespace {

int64_t NumElements(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (int64_t d : shape) {
    if (d < 0)
      throw InvalidArgument("tensor shape " + ShapeToString(shape) + " has a negative dimension");
    n *= d;
  }
  return n;
}

// Tensors of at least one huge page (embedding tables, their optimizer state) start on a 2 MiB
// boundary and are advised for transparent huge pages (base/system_memory.h).
float* AllocateAligned(int64_t n) {
  if (n == 0) return nullptr;
  const size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  return static_cast<float*>(crank::AllocateAligned(bytes));
}

}  // namespace

void Tensor::Free::operator()(float* p) const { std::free(p); }

std::string ShapeToString(const std::vector<int64_t>& shape) {
  std::string s = "(";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i) s += ", ";
    s += std::to_string(shape[i]);
  }
  if (shape.size() == 1) s += ",";
  return s + ")";
}

Tensor::Tensor(std::vector<int64_t> shape) { ResizeZero(shape); }

Tensor::Tensor(std::vector<int64_t> shape, std::initializer_list<float> values)
    : Tensor(std::move(shape), std::vector<float>(values)) {}

Tensor::Tensor(std::vector<int64_t> shape, const std::vector<float>& values) {
  Resize(shape);
  if (static_cast<int64_t>(values.size()) != size_) {
    throw InvalidArgument("tensor of shape " + ShapeToString(shape_) + " needs " +
                          std::to_string(size_) + " values, got " + std::to_string(values.size()));
  }
  if (size_) std::memcpy(data(), values.data(), values.size() * sizeof(float));
}

Tensor::Tensor(const Tensor& other) { *this = other; }

Tensor& Tensor::operator=(const Tensor& other) {
  if (this == &other) return *this;
  if (other.size_ > capacity_) {
    data_.reset(AllocateAligned(other.size_));
    capacity_ = other.size_;
  }
  shape_ = other.shape_;
  size_ = other.size_;  // a default-constructed tensor has no shape and no elements
  if (size_) std::memcpy(data(), other.data(), static_cast<size_t>(size_) * sizeof(float));
  return *this;
}

void Tensor::Resize(const std::vector<int64_t>& shape) {
  const int64_t n = NumElements(shape);
  if (n > capacity_) {
    data_.reset(AllocateAligned(n));
    capacity_ = n;
  }
  shape_ = shape;
  size_ = n;
}

void Tensor::ResizeZero(const std::vector<int64_t>& shape) {
  Resize(shape);
  SetZero();
}

void Tensor::Fill(float v) {
  float* p = data();
  for (int64_t i = 0; i < size_; ++i) p[i] = v;
}

std::string Tensor::ShapeString() const { return ShapeToString(shape_); }

}  // namespace crank
