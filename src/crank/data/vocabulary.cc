#include "crank/data/vocabulary.h"

#include <algorithm>
#include <utility>

#include "crank/base/error.h"

namespace crank {

TokenCounter::TokenCounter(int64_t max_distinct) : max_distinct_(max_distinct) {
  CRANK_REQUIRE(max_distinct >= 1, "TokenCounter: max_distinct must be >= 1, got {}", max_distinct);
}

void TokenCounter::Purge() {
  std::vector<std::pair<uint64_t, uint64_t>> held;  // (key, count)
  held.reserve(table_.size());
  table_.ForEach([&](uint64_t key, uint64_t count) { held.emplace_back(key, count); });
  std::vector<uint64_t> counts;
  counts.reserve(held.size());
  for (const auto& kv : held) counts.push_back(kv.second);
  // Lower median: at least ceil(n / 2) counts are <= m, so at least half the keys leave.
  const auto mid = counts.begin() + static_cast<std::ptrdiff_t>((counts.size() - 1) / 2);
  std::nth_element(counts.begin(), mid, counts.end());
  const uint64_t m = *mid;
  table_ = KeyTable();
  table_.Reserve(static_cast<size_t>(max_distinct_));
  for (const auto& [key, count] : held) {
    if (count > m) table_.Set(key, count - m);
  }
  ++purges_;
  undercount_ += static_cast<int64_t>(m);
}

std::vector<uint64_t> TokenCounter::Select(int64_t min_count, int64_t max_size) const {
  std::vector<std::pair<uint64_t, uint64_t>> kept;  // (count, key)
  table_.ForEach([&](uint64_t key, uint64_t count) {
    if (static_cast<int64_t>(count) >= min_count) kept.emplace_back(count, key);
  });
  const auto order = [](const auto& a, const auto& b) {
    return a.first != b.first ? a.first > b.first : a.second < b.second;
  };
  if (max_size > 0 && static_cast<int64_t>(kept.size()) > max_size) {
    std::nth_element(kept.begin(), kept.begin() + max_size, kept.end(), order);
    kept.resize(static_cast<size_t>(max_size));
  }
  std::sort(kept.begin(), kept.end(), order);
  std::vector<uint64_t> keys;
  keys.reserve(kept.size());
  for (const auto& [count, key] : kept) keys.push_back(key);
  return keys;
}

Vocabulary::Vocabulary(std::vector<uint64_t> keys) : keys_(std::move(keys)) {
  table_.Reserve(keys_.size());
  for (size_t i = 0; i < keys_.size(); ++i) {
    if (table_.Find(keys_[i]) != 0) {
      throw InvalidArgument(fmt::format("vocabulary: token key {:016x} appears twice", keys_[i]));
    }
    table_.Set(keys_[i], static_cast<uint64_t>(kFirstTokenId) + i);
  }
}

}  // namespace crank
