#include "crank/data/token_hash.h"

#include "crank/base/rng.h"

namespace crank {
namespace {

// Little-endian load of n <= 8 bytes, independent of the host's byte order.
inline uint64_t LoadLe(const unsigned char* p, size_t n) {
  uint64_t v = 0;
  for (size_t i = 0; i < n; ++i) v |= static_cast<uint64_t>(p[i]) << (8 * i);
  return v;
}

}  // namespace

uint64_t HashBytes(std::string_view s) {
  const auto* p = reinterpret_cast<const unsigned char*>(s.data());
  size_t n = s.size();
  uint64_t h = 0x243f6a8885a308d3ULL ^ (static_cast<uint64_t>(n) * 0x9e3779b97f4a7c15ULL);
  while (n >= 8) {
    h = Mix64(h ^ LoadLe(p, 8));
    p += 8;
    n -= 8;
  }
  // The length is part of the seed, so texts that differ only by trailing zero bytes differ.
  return Mix64(h ^ LoadLe(p, n));
}

}  // namespace crank
