#ifndef CRANK_DATA_TOKEN_HASH_H_
#define CRANK_DATA_TOKEN_HASH_H_

// Token keys: every categorical token becomes a 64-bit key before it is hashed into buckets or
// looked up in a vocabulary. Text tokens use HashBytes; Criteo's hexadecimal tokens use their
// value (ParseHex). Both are portable: the same bytes give the same key on every platform.

#include <cstdint>
#include <string_view>

namespace crank {

// A 64-bit hash of the bytes of `s` (any bytes, not only UTF-8), stable across platforms and
// releases: vocabularies and hashed ids in checkpoints depend on it.
uint64_t HashBytes(std::string_view s);

namespace internal {
// Value of a hexadecimal digit, or 0xff.
inline constexpr struct HexTable {
  unsigned char value[256];
  constexpr HexTable() : value() {
    for (int c = 0; c < 256; ++c) {
      value[c] = c >= '0' && c <= '9'   ? static_cast<unsigned char>(c - '0')
                 : c >= 'a' && c <= 'f' ? static_cast<unsigned char>(c - 'a' + 10)
                 : c >= 'A' && c <= 'F' ? static_cast<unsigned char>(c - 'A' + 10)
                                        : 0xff;
    }
  }
} kHexTable;
}  // namespace internal

// Parses 1..16 hexadecimal digits (either case) into *value. Returns false for an empty text,
// a non-hex character or more than 16 digits (the value would not fit in 64 bits).
inline bool ParseHex(std::string_view s, uint64_t* value) {
  if (s.empty() || s.size() > 16) return false;
  uint64_t v = 0;
  unsigned bad = 0;
  for (const char ch : s) {
    const unsigned d = internal::kHexTable.value[static_cast<unsigned char>(ch)];
    bad |= d;
    v = (v << 4) | (d & 0xf);
  }
  if (bad & 0xf0) return false;  // some character was not a digit (0xff)
  *value = v;
  return true;
}

// The id of a key in a hashed encoding with `buckets` buckets: 1 + key % buckets (0 = missing).
inline int64_t HashBucketId(uint64_t key, int64_t buckets) {
  return 1 + static_cast<int64_t>(key % static_cast<uint64_t>(buckets));
}

// HashBucketId with the division replaced by a multiplication for keys and bucket counts below
// 2^32 (Lemire's fastmod), which covers Criteo's 8-digit tokens. Same results.
class BucketHasher {
 public:
  explicit BucketHasher(int64_t buckets)
      : buckets_(static_cast<uint64_t>(buckets)),
        m_(buckets_ < (uint64_t{1} << 32) ? ~uint64_t{0} / buckets_ + 1 : 0) {}
  int64_t Id(uint64_t key) const {
    if (m_ != 0 && key < (uint64_t{1} << 32)) {
      const uint64_t low = m_ * key;
      return 1 + static_cast<int64_t>((static_cast<unsigned __int128>(low) * buckets_) >> 64);
    }
    return 1 + static_cast<int64_t>(key % buckets_);
  }

 private:
  uint64_t buckets_;
  uint64_t m_;
};

}  // namespace crank

#endif  // CRANK_DATA_TOKEN_HASH_H_
