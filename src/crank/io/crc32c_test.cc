#include "crank/io/crc32c.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace crank {
namespace {

uint32_t Crc(const std::string& s) { return Crc32c(s.data(), s.size()); }

TEST(Crc32c, MatchesPublishedCheckValue) {
  EXPECT_EQ(Crc("123456789"), 0xE3069283u);
  EXPECT_EQ(Crc32cExtendPortable(0, "123456789", 9), 0xE3069283u);
  EXPECT_EQ(Crc(""), 0u);
}

// The iSCSI test vectors of RFC 3720, appendix B.4.
TEST(Crc32c, MatchesRfc3720Vectors) {
  std::vector<uint8_t> buf(32, 0x00);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x8A9136AAu);
  std::fill(buf.begin(), buf.end(), 0xFF);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x62A8AB43u);
  for (int i = 0; i < 32; ++i) buf[static_cast<size_t>(i)] = static_cast<uint8_t>(i);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x46DD794Eu);
  for (int i = 0; i < 32; ++i) buf[static_cast<size_t>(i)] = static_cast<uint8_t>(31 - i);
  EXPECT_EQ(Crc32c(buf.data(), buf.size()), 0x113FDB5Cu);
}

TEST(Crc32c, ExtendEqualsCrcOfConcatenation) {
  const std::string s = "The quick brown fox jumps over the lazy dog, twice over.";
  const uint32_t whole = Crc(s);
  for (size_t cut = 0; cut <= s.size(); ++cut) {
    const uint32_t head = Crc32c(s.data(), cut);
    EXPECT_EQ(Crc32cExtend(head, s.data() + cut, s.size() - cut), whole) << "cut " << cut;
    EXPECT_EQ(Crc32cExtendPortable(head, s.data() + cut, s.size() - cut), whole) << "cut " << cut;
  }
}

TEST(Crc32c, DispatchedMatchesPortableAtEveryLengthAndAlignment) {
  std::mt19937 gen(7);
  std::vector<uint8_t> buf(1100);
  for (auto& b : buf) b = static_cast<uint8_t>(gen());
  for (size_t offset = 0; offset < 9; ++offset) {
    for (size_t n = 0; n + offset <= buf.size(); n += (n < 80 ? 1 : 37)) {
      ASSERT_EQ(Crc32c(buf.data() + offset, n), Crc32cExtendPortable(0, buf.data() + offset, n))
          << "offset " << offset << " length " << n;
    }
  }
}

TEST(Crc32c, DetectsEverySingleBitFlip) {
  std::string s(64, 'a');
  const uint32_t base = Crc(s);
  for (size_t i = 0; i < s.size(); ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      std::string t = s;
      t[i] = static_cast<char>(t[i] ^ (1 << bit));
      EXPECT_NE(Crc(t), base) << "byte " << i << " bit " << bit;
    }
  }
}

}  // namespace
}  // namespace crank
