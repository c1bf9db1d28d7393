#ifndef CRANK_DATA_VOCABULARY_H_
#define CRANK_DATA_VOCABULARY_H_

// Vocabularies of categorical tokens (by 64-bit token key, see token_hash.h) and the bounded
// counter that builds them in one streaming pass.

#include <cstdint>
#include <vector>

#include "crank/data/key_table.h"

namespace crank {

// Counts token occurrences with a bound on memory: at most `max_distinct` distinct keys are
// held (the Misra-Gries "frequent items" summary with median purges). When a new key arrives
// and the table is full, the lower median m of the held counts is subtracted from every count
// and the keys left at or below 0 are removed (at least half of them); the new key then
// enters with count 1. So a frequent key first seen late is still counted, and for every key
//   true count - max_undercount() <= count(key) <= true count,
// where max_undercount() is the sum of the subtracted medians (0 while the table never
// overflowed: counts are then exact). A key removed or never held has a true count of at most
// max_undercount(). Each purge costs O(max_distinct) and frees at least half the table, so an
// Add costs O(1) amortised. Deterministic: the result depends only on the sequence of Add
// calls. Memory: 16 bytes per slot at load <= 1/2, plus a transient copy during a purge.
// Not thread-safe.
class TokenCounter {
 public:
  explicit TokenCounter(int64_t max_distinct);

  void Add(uint64_t key) {
    if (uint64_t* c = table_.FindMutable(key)) {
      ++*c;
      return;
    }
    if (static_cast<int64_t>(table_.size()) >= max_distinct_) Purge();
    table_.Set(key, 1);
  }
  int64_t distinct() const { return static_cast<int64_t>(table_.size()); }
  // Purges so far (0: every count is exact).
  int64_t purges() const { return purges_; }
  // The most any count() lies below the key's true count.
  int64_t max_undercount() const { return undercount_; }
  // Count of `key` (0 if not held): a lower bound of its true count, see above.
  int64_t count(uint64_t key) const { return static_cast<int64_t>(table_.Find(key)); }

  // Keys whose count() is at least min_count, most frequent first (ties: smaller key first), at
  // most max_size of them (0 = no limit). Every key with a true count of at least
  // min_count + max_undercount() is among them (unless cut by max_size); no key with a true
  // count below min_count is. Deterministic for a given sequence of Add calls.
  std::vector<uint64_t> Select(int64_t min_count, int64_t max_size) const;

 private:
  void Purge();

  KeyTable table_;
  int64_t max_distinct_;
  int64_t purges_ = 0;
  int64_t undercount_ = 0;
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
