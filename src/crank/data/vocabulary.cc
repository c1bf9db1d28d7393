#include "crank/data/vocabulary.h"

#include <algorithm>
#include <utility>

#include "crank/base/error.h"

namespace crank {

TokenCounter::TokenCounter(int64_t max_distinct) : max_distinct_(max_distinct) {
  CRANK_REQUIRE(max_distinct >= 1, "TokenCounter: max_distinct must be >= 1, got {}", max_distinct);
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
