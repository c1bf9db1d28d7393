#include "crank/data/vocabulary.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <map>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/data/key_table.h"
#include "crank/data/token_hash.h"

namespace crank {
namespace {

TEST(KeyTable, SetFindAndGrow) {
  KeyTable t;
  for (uint64_t k = 0; k < 10000; ++k) t.Set(k * 7919, k + 1);
  EXPECT_EQ(t.size(), 10000u);
  for (uint64_t k = 0; k < 10000; ++k) ASSERT_EQ(t.Find(k * 7919), k + 1);
  EXPECT_EQ(t.Find(3), 0u);
  t.Set(0, 42);  // overwrite key 0
  EXPECT_EQ(t.Find(0), 42u);
  EXPECT_EQ(t.size(), 10000u);
  uint64_t sum = 0;
  t.ForEach([&](uint64_t, uint64_t v) { sum += v; });
  EXPECT_EQ(sum, 10000u * 10001u / 2 - 1 + 42);
}

TEST(TokenCounter, SelectsByCountThenKey) {
  TokenCounter c(100);
  for (uint64_t k : {5, 3, 5, 9, 3, 5, 7, 1}) c.Add(k);
  EXPECT_EQ(c.count(5), 3);
  EXPECT_EQ(c.Select(1, 0), (std::vector<uint64_t>{5, 3, 1, 7, 9}));
  EXPECT_EQ(c.Select(2, 0), (std::vector<uint64_t>{5, 3}));
  EXPECT_EQ(c.Select(1, 3), (std::vector<uint64_t>{5, 3, 1}));
  EXPECT_EQ(c.Select(4, 0), (std::vector<uint64_t>{}));
}

TEST(TokenCounter, CountsExactlyBelowTheCap) {
  TokenCounter c(3);
  for (uint64_t k : {1, 2, 3, 1, 3, 3}) c.Add(k);
  EXPECT_EQ(c.purges(), 0);
  EXPECT_EQ(c.max_undercount(), 0);
  EXPECT_EQ(c.count(1), 2);
  EXPECT_EQ(c.count(2), 1);
  EXPECT_EQ(c.count(3), 3);
}

TEST(TokenCounter, PurgesTheLowerHalfByTheMedianWhenFull) {
  TokenCounter c(2);
  // 1, 2 fill the table; 3 purges both (median 1); 1 re-enters; 3 reaches 3; 2 purges by the
  // median of {1: 1, 3: 3} = 1, leaving 3 at 2.
  for (uint64_t k : {1, 2, 3, 1, 3, 3, 2}) c.Add(k);
  EXPECT_EQ(c.purges(), 2);
  EXPECT_EQ(c.max_undercount(), 2);
  EXPECT_EQ(c.distinct(), 2);
  EXPECT_EQ(c.count(3), 2);  // true 3
  EXPECT_EQ(c.count(2), 1);  // true 2
  EXPECT_EQ(c.count(1), 0);  // true 2 <= max_undercount
}

TEST(TokenCounter, CountsAFrequentTokenFirstSeenAfterTheTableIsFull) {
  TokenCounter c(100);
  uint64_t next = 1;
  for (int i = 0; i < 1000; ++i) c.Add(next++);  // 1000 singletons: the table fills at 100
  ASSERT_GT(c.purges(), 0);
  for (int i = 0; i < 60; ++i) {  // a token seen 60 times, each time beside a new singleton
    c.Add(777777);
    c.Add(next++);
  }
  EXPECT_GE(c.count(777777), 60 - c.max_undercount());
  EXPECT_GE(c.count(777777), 50);
  // Only the frequent token passes min_count 10; no singleton does.
  EXPECT_EQ(c.Select(10, 0), (std::vector<uint64_t>{777777}));
}

TEST(TokenCounter, BoundsHoldOnAZipfStreamAndAreDeterministic) {
  // Keys drawn from a heavy-tailed law over 5000 values; the counter holds 200.
  std::vector<uint64_t> stream;
  Rng rng(3);
  for (int i = 0; i < 50000; ++i) {
    const double u = rng.UniformDouble();
    stream.push_back(static_cast<uint64_t>(std::pow(5001.0, u)));  // P(k) ~ 1/k
  }
  TokenCounter a(200), b(200);
  std::map<uint64_t, int64_t> truth;
  for (const uint64_t k : stream) {
    a.Add(k);
    b.Add(k);
    ++truth[k];
  }
  ASSERT_GT(a.purges(), 0);
  EXPECT_LE(a.distinct(), 200);
  const int64_t slack = a.max_undercount();
  for (const auto& [k, n] : truth) {
    ASSERT_LE(a.count(k), n) << k;
    ASSERT_GE(a.count(k), n - slack) << k;
  }
  const int64_t min_count = 20;
  const std::vector<uint64_t> kept = a.Select(min_count, 0);
  for (const auto& [k, n] : truth) {
    const bool in = std::find(kept.begin(), kept.end(), k) != kept.end();
    if (n >= min_count + slack) EXPECT_TRUE(in) << k << " seen " << n;
    if (n < min_count) EXPECT_FALSE(in) << k << " seen " << n;
  }
  EXPECT_EQ(kept, b.Select(min_count, 0));
}

TEST(Vocabulary, ReservesMissingAndOov) {
  const Vocabulary v({40, 10, 30});
  EXPECT_EQ(v.size(), 5);
  EXPECT_EQ(v.Lookup(40), 2);
  EXPECT_EQ(v.Lookup(10), 3);
  EXPECT_EQ(v.Lookup(30), 4);
  EXPECT_EQ(v.Lookup(20), Vocabulary::kOovId);
  EXPECT_EQ(Vocabulary().size(), 2);
  EXPECT_THROW(Vocabulary({1, 2, 1}), InvalidArgument);
}

TEST(TokenHash, BucketHasherEqualsModulo) {
  Rng rng(9);
  for (const int64_t buckets : std::initializer_list<int64_t>{1, 2, 3, 7, 1000, 100000, 4294967295,
                                                              4294967296, 1099511627776}) {
    const BucketHasher h(buckets);
    for (int i = 0; i < 20000; ++i) {
      const uint64_t r = rng.NextU64();
      const uint64_t key = i % 3 == 0 ? r : i % 3 == 1 ? (r & 0xffffffff) : (r & 0xff);
      ASSERT_EQ(h.Id(key), HashBucketId(key, buckets)) << key << " % " << buckets;
    }
    EXPECT_EQ(h.Id(0xffffffff), HashBucketId(0xffffffff, buckets));
  }
}

TEST(TokenHash, ParsesHexAndHashesBytesStably) {
  uint64_t v = 0;
  EXPECT_TRUE(ParseHex("68fd1e64", &v));
  EXPECT_EQ(v, 0x68fd1e64u);
  EXPECT_TRUE(ParseHex("FFFFffffFFFFffff", &v));
  EXPECT_EQ(v, ~uint64_t{0});
  EXPECT_FALSE(ParseHex("", &v));
  EXPECT_FALSE(ParseHex("12g4", &v));
  EXPECT_FALSE(ParseHex("11112222333344445", &v));
  EXPECT_EQ(HashBucketId(0x68fd1e64, 1000), 853);
  // Frozen values: vocabularies and hashed ids in checkpoints depend on them.
  EXPECT_EQ(HashBytes(""), 0x2cb0f69f4abea221ULL);
  EXPECT_EQ(HashBytes("Comedy"), 0x90ac83abf5ab4130ULL);
  EXPECT_EQ(HashBytes("a longer token of 29 bytes!!"), 0x92289f92465f0922ULL);
  EXPECT_NE(HashBytes("a"), HashBytes(std::string_view("a\0", 2)));
  EXPECT_NE(HashBytes("Comedy"), HashBytes("Drama"));
}

}  // namespace
}  // namespace crank
