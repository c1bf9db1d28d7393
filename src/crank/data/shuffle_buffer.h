#ifndef CRANK_DATA_SHUFFLE_BUFFER_H_
#define CRANK_DATA_SHUFFLE_BUFFER_H_

// ShuffleBuffer: tf.data-style streaming shuffle. It fills up to `capacity` items from the
// input; then each output is a uniformly random held item, whose slot is refilled from the
// input. The order depends only on the input sequence, the capacity and the seed, so the
// streaming reader and the in-memory dataset shuffle identically. Items are swapped, never
// copied, so their buffers are reused. Not thread-safe.

#include <cstdint>
#include <utility>
#include <vector>

#include "crank/base/rng.h"

namespace crank {

template <typename T>
class ShuffleBuffer {
 public:
  // capacity <= 1 passes items through in input order.
  ShuffleBuffer(int64_t capacity, uint64_t seed)
      : capacity_(capacity > 1 ? static_cast<size_t>(capacity) : 0), rng_(seed) {}

  // Writes the next item to *out. `read(T*)` fills an item from the input and returns false
  // at its end. Returns false when input and buffer are exhausted.
  template <typename Read>
  bool Next(T* out, Read&& read) {
    if (capacity_ == 0) return read(out);
    if (!filled_) {
      items_.resize(capacity_);
      while (count_ < capacity_ && read(&items_[count_])) ++count_;
      filled_ = true;
    }
    if (count_ == 0) return false;
    const size_t j = static_cast<size_t>(rng_.UniformInt(count_));
    using std::swap;
    swap(*out, items_[j]);
    if (!read(&items_[j])) {
      swap(items_[j], items_[count_ - 1]);
      --count_;
    }
    return true;
  }

 private:
  size_t capacity_;
  Rng rng_;
  std::vector<T> items_;
  size_t count_ = 0;
  bool filled_ = false;
};

}  // namespace crank

#endif  // CRANK_DATA_SHUFFLE_BUFFER_H_
