#include "crank/data/vocabulary.h"

#include <gtest/gtest.h>

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

TEST(TokenCounter, StopsCountingNewTokensAtTheCap) {
  TokenCounter c(2);
  for (uint64_t k : {1, 2, 3, 1, 3, 3, 2}) c.Add(k);
  EXPECT_TRUE(c.full());
  EXPECT_EQ(c.distinct(), 2);
  EXPECT_EQ(c.count(1), 2);
  EXPECT_EQ(c.count(2), 2);
  EXPECT_EQ(c.count(3), 0);
  EXPECT_EQ(c.dropped_occurrences(), 3);
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
