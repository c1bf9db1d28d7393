#ifndef CRANK_DATA_KEY_TABLE_H_
#define CRANK_DATA_KEY_TABLE_H_

// KeyTable: an open-addressing hash table from 64-bit keys to non-zero 64-bit values (linear
// probing, power-of-two capacity, load factor <= 1/2, 16 bytes per slot). It backs the token
// counters and vocabularies, where std::unordered_map would cost a node allocation per token.
// Concurrent const use (Find) is safe; mutation is not.

#include <cstddef>
#include <cstdint>
#include <vector>

#include "crank/base/rng.h"

namespace crank {

class KeyTable {
 public:
  KeyTable() { Rehash(16); }

  // The value stored for `key`, or 0 when absent.
  uint64_t Find(uint64_t key) const {
    for (size_t i = Mix64(key) & mask_;; i = (i + 1) & mask_) {
      const Slot& s = slots_[i];
      if (s.value == 0) return 0;
      if (s.key == key) return s.value;
    }
  }
  // A pointer to the value of `key`, or nullptr when absent. Valid until the next insertion.
  uint64_t* FindMutable(uint64_t key) {
    for (size_t i = Mix64(key) & mask_;; i = (i + 1) & mask_) {
      Slot& s = slots_[i];
      if (s.value == 0) return nullptr;
      if (s.key == key) return &s.value;
    }
  }
  // Inserts or overwrites. Precondition: value != 0.
  void Set(uint64_t key, uint64_t value) {
    if (uint64_t* v = FindMutable(key)) {
      *v = value;
      return;
    }
    if ((size_ + 1) * 2 > slots_.size()) Rehash(slots_.size() * 2);
    Place(key, value);
    ++size_;
  }

  size_t size() const { return size_; }
  void Reserve(size_t n) {
    size_t cap = slots_.size();
    while (n * 2 > cap) cap *= 2;
    if (cap != slots_.size()) Rehash(cap);
  }
  // Calls f(key, value) for every entry, in slot order (not a meaningful order).
  template <typename F>
  void ForEach(F&& f) const {
    for (const Slot& s : slots_) {
      if (s.value != 0) f(s.key, s.value);
    }
  }

 private:
  struct Slot {
    uint64_t key = 0;
    uint64_t value = 0;  // 0 = empty slot
  };

  void Place(uint64_t key, uint64_t value) {
    size_t i = Mix64(key) & mask_;
    while (slots_[i].value != 0) i = (i + 1) & mask_;
    slots_[i] = Slot{key, value};
  }
  void Rehash(size_t capacity) {
    std::vector<Slot> old;
    old.swap(slots_);
    slots_.assign(capacity, Slot{});
    mask_ = capacity - 1;
    for (const Slot& s : old) {
      if (s.value != 0) Place(s.key, s.value);
    }
  }

  std::vector<Slot> slots_;
  size_t mask_ = 0;
  size_t size_ = 0;
};

}  // namespace crank

#endif  // CRANK_DATA_KEY_TABLE_H_
