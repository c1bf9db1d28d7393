#include "crank/tensor/tensor.h"

#include <sys/mman.h>

#include <cstdlib>
#include <cstring>
#include <new>

#include "crank/base/error.h"

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
// boundary and are offered to the kernel for transparent huge pages: one page fault per 2 MiB
// instead of per 4 KiB when they are first written, and far fewer TLB misses when rows are read
// at random. The tail past the last whole 2 MiB stays in small pages (no memory is added). Where
// THP is off or unavailable the advice is ignored.
constexpr size_t kHugePageBytes = size_t{2} << 20;

float* AllocateAligned(int64_t n) {
  if (n == 0) return nullptr;
  size_t bytes = (static_cast<size_t>(n) * sizeof(float) + 63) / 64 * 64;
  const bool huge = bytes >= kHugePageBytes;
  // posix_memalign, not aligned_alloc: the size need not be a multiple of the alignment (C11's
  // aligned_alloc requires it, and AddressSanitizer enforces that).
  void* p = nullptr;
  if (posix_memalign(&p, huge ? kHugePageBytes : 64, bytes) != 0 || p == nullptr) {
    throw std::bad_alloc();
  }
#ifdef MADV_HUGEPAGE
  if (huge) madvise(p, bytes, MADV_HUGEPAGE);  // advice only: a failure changes nothing
#endif
  return static_cast<float*>(p);
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
