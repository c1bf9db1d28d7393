#ifndef CRANK_DATA_VOCABULARY_H_
#define CRANK_DATA_VOCABULARY_H_

// Vocabularies of categorical tokens (by 64-bit token key, see token_hash.h) and the bounded
// counter that builds them in one streaming pass.

#include <cstdint>
#include <vector>

#include "crank/data/key_table.h"

namespace crank {

// Counts token occurrences with a bound on memory: at most `max_distinct` distinct keys are
// held. Once full, keys not yet held are not counted (dropped_occurrences() says how many
// occurrences were lost); keys already held keep counting. Not thread-safe.
class TokenCounter {
 public:
  explicit TokenCounter(int64_t max_distinct);

  void Add(uint64_t key) {
    if (uint64_t* c = table_.FindMutable(key)) {
      ++*c;
    } else if (static_cast<int64_t>(table_.size()) < max_distinct_) {
      table_.Set(key, 1);
    } else {
      ++dropped_;
    }
  }
  int64_t distinct() const { return static_cast<int64_t>(table_.size()); }
  bool full() const { return distinct() >= max_distinct_; }
  int64_t dropped_occurrences() const { return dropped_; }
  // Count of `key` (0 if not held).
  int64_t count(uint64_t key) const { return static_cast<int64_t>(table_.Find(key)); }

  // Keys seen at least min_count times, most frequent first (ties: smaller key first), at
  // most max_size of them (0 = no limit). Deterministic for a given sequence of Add calls.
  std::vector<uint64_t> Select(int64_t min_count, int64_t max_size) const;

 private:
  KeyTable table_;
  int64_t max_distinct_;
  int64_t dropped_ = 0;
};

// A fixed token -> id map. Id 0 is reserved for "missing", id 1 is the shared
// out-of-vocabulary id, keys()[i] has id i + 2. Immutable after construction; concurrent
// Lookup is safe.
class Vocabulary {
 public:
  static constexpr int64_t kMissingId = 0;
  static constexpr int64_t kOovId = 1;
  static constexpr int64_t kFirstTokenId = 2;

  Vocabulary() = default;
  // Throws InvalidArgument on a duplicate key.
  explicit Vocabulary(std::vector<uint64_t> keys);

  // The id of `key`, or kOovId.
  int64_t Lookup(uint64_t key) const {
    const uint64_t v = table_.Find(key);
    return v == 0 ? kOovId : static_cast<int64_t>(v);
  }
  // V = 2 + number of tokens: ids lie in [0, V).
  int64_t size() const { return kFirstTokenId + static_cast<int64_t>(keys_.size()); }
  const std::vector<uint64_t>& keys() const { return keys_; }

 private:
  std::vector<uint64_t> keys_;
  KeyTable table_;
};

}  // namespace crank

#endif  // CRANK_DATA_VOCABULARY_H_
