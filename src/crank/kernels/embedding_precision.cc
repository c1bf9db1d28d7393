#include "crank/kernels/embedding_precision.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "crank/base/error.h"
#include "crank/kernels/bf16.h"

namespace crank {
namespace {

constexpr uint16_t kFp16MaxFinite = 0x7bff;  // 65504
constexpr uint16_t kFp16Inf = 0x7c00;

uint32_t Bits(float x) {
  uint32_t b;
  std::memcpy(&b, &x, sizeof(b));
  return b;
}

// |x| (finite, not NaN) as fp16 bits, rounding the dropped part up when round_up(dropped, half)
// says so: dropped is the remainder in units where `one` is one step of the result.
template <typename RoundUp>
uint16_t Fp16Magnitude(float a, RoundUp round_up) {
  const uint32_t bits = Bits(a);
  const int exponent = static_cast<int>(bits >> 23) - 127;
  uint32_t h;
  if (exponent >= -14) {
    if (exponent > 15) return kFp16MaxFinite;
    const uint32_t mantissa = bits & 0x7fffffu;
    h = (static_cast<uint32_t>(exponent + 15) << 10) | (mantissa >> 13);
    // 13 dropped bits: one step of h is 0x2000.
    h += round_up(mantissa & 0x1fffu, 0x2000u, h & 1u) ? 1u : 0u;
  } else {
    // Subnormal fp16: a = m * 2^-24 with m < 2^10; a * 2^24 is exact in float.
    const float m = a * 16777216.0f;
    const float lo = std::floor(m);
    h = static_cast<uint32_t>(lo);
    // The fraction m - lo (exact) in units of 2^-24 of a step.
    const uint32_t frac = static_cast<uint32_t>((m - lo) * 16777216.0f);
    h += round_up(frac, 1u << 24, h & 1u) ? 1u : 0u;
  }
  return static_cast<uint16_t>(h > kFp16MaxFinite ? kFp16MaxFinite : h);  // carry to inf: saturate
}

template <typename RoundUp>
uint16_t ToFp16(float x, RoundUp round_up) {
  const uint32_t bits = Bits(x);
  const uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    if ((bits & 0x7fffffu) != 0) return static_cast<uint16_t>(sign | 0x7e00u);  // NaN
    return static_cast<uint16_t>(sign | kFp16MaxFinite);                        // saturate
  }
  return static_cast<uint16_t>(sign | Fp16Magnitude(std::fabs(x), round_up));
}

}  // namespace

EmbeddingPrecision ParseEmbeddingPrecision(std::string_view name) {
  if (name == "fp32") return EmbeddingPrecision::kFp32;
  if (name == "bf16") return EmbeddingPrecision::kBf16;
  if (name == "fp16") return EmbeddingPrecision::kFp16;
  throw InvalidArgument(fmt::format("embedding precision must be one of fp32, bf16, fp16; got '{}'",
                                    std::string(name)));
}

std::string_view EmbeddingPrecisionName(EmbeddingPrecision precision) {
  switch (precision) {
    case EmbeddingPrecision::kFp32:
      return "fp32";
    case EmbeddingPrecision::kBf16:
      return "bf16";
    case EmbeddingPrecision::kFp16:
      return "fp16";
  }
  CRANK_CHECK(false, "unknown EmbeddingPrecision value {}", static_cast<int>(precision));
  return "";
}

int64_t EmbeddingPrecisionBytes(EmbeddingPrecision precision) {
  return precision == EmbeddingPrecision::kFp32 ? 4 : 2;
}

float Fp16ToFloatPortable(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exponent = (h >> 10) & 0x1fu;
  const uint32_t mantissa = h & 0x3ffu;
  uint32_t bits;
  if (exponent == 0) {
    const float m = static_cast<float>(mantissa) * 0x1.0p-24f;  // exact
    return sign != 0 ? -m : m;
  }
  if (exponent == 0x1f) {
    bits = sign | 0x7f800000u | (mantissa << 13);
    if (mantissa != 0) bits |= 0x00400000u;  // NaN: quiet
  } else {
    bits = sign | ((exponent - 15 + 127) << 23) | (mantissa << 13);
  }
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

uint16_t FloatToFp16(float x) {
  return ToFp16(x, [](uint32_t dropped, uint32_t step, uint32_t lsb) {
    const uint32_t half = step / 2;
    return dropped > half || (dropped == half && lsb != 0);
  });
}

uint16_t FloatToFp16Stochastic(float x, uint32_t r) {
  return ToFp16(x, [r](uint32_t dropped, uint32_t step, uint32_t /*lsb*/) {
    // step is 2^13 or 2^24: the low log2(step) random bits, uniform in [0, step).
    return (r & (step - 1)) < dropped;
  });
}

uint16_t FloatToBf16Stochastic(float x, uint32_t r) {
  uint32_t bits = Bits(x);
  if ((bits & 0x7f800000u) == 0x7f800000u) {
    if ((bits & 0x7fffffu) != 0) return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN
    return static_cast<uint16_t>(bits >> 16);                                           // +-inf
  }
  // Add 16 random bits below the kept ones: the magnitude rounds up with probability
  // dropped / 2^16. A carry into the exponent is the correct next value; one into infinity
  // (from the largest finite bf16) is truncated instead.
  const uint32_t rounded = bits + (r & 0xffffu);
  if ((rounded & 0x7f800000u) == 0x7f800000u) return static_cast<uint16_t>(bits >> 16);
  bits = rounded;
  return static_cast<uint16_t>(bits >> 16);
}

void WidenRow(EmbeddingPrecision precision, const uint16_t* src, int64_t n, float* dst) {
  if (precision == EmbeddingPrecision::kBf16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = Bf16ToFloat(src[i]);
  } else {
    CRANK_CHECK(precision == EmbeddingPrecision::kFp16, "WidenRow of an fp32 precision");
    int64_t i = 0;
#if defined(__F16C__)
    for (; i + 8 <= n; i += 8) {
      const __m128i h = _mm_loadu_si128(reinterpret_cast<const __m128i*>(src + i));
      _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
#endif
    for (; i < n; ++i) dst[i] = Fp16ToFloat(src[i]);
  }
}

void NarrowRowStochastic(EmbeddingPrecision precision, const float* src, int64_t n, uint64_t seed,
                         int64_t step, int64_t row, uint16_t* dst) {
  if (precision == EmbeddingPrecision::kBf16) {
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = FloatToBf16Stochastic(src[i], RoundingBits(seed, step, row, i));
    }
  } else {
    CRANK_CHECK(precision == EmbeddingPrecision::kFp16, "NarrowRowStochastic of fp32");
    for (int64_t i = 0; i < n; ++i) {
      dst[i] = FloatToFp16Stochastic(src[i], RoundingBits(seed, step, row, i));
    }
  }
}

void NarrowRowNearest(EmbeddingPrecision precision, const float* src, int64_t n, uint16_t* dst) {
  if (precision == EmbeddingPrecision::kBf16) {
    for (int64_t i = 0; i < n; ++i) dst[i] = FloatToBf16(src[i]);
  } else {
    CRANK_CHECK(precision == EmbeddingPrecision::kFp16, "NarrowRowNearest of fp32");
    for (int64_t i = 0; i < n; ++i) dst[i] = FloatToFp16(src[i]);
  }
}

void ConvertValues(EmbeddingPrecision from, const void* src, EmbeddingPrecision to, void* dst,
                   int64_t n) {
  if (n <= 0) return;
  if (from == to) {
    std::memcpy(dst, src, static_cast<size_t>(n * EmbeddingPrecisionBytes(from)));
    return;
  }
  const bool wide_in = from == EmbeddingPrecision::kFp32,
             wide_out = to == EmbeddingPrecision::kFp32;
  if (wide_in) {
    NarrowRowNearest(to, static_cast<const float*>(src), n, static_cast<uint16_t*>(dst));
    return;
  }
  if (wide_out) {
    WidenRow(from, static_cast<const uint16_t*>(src), n, static_cast<float*>(dst));
    return;
  }
  // One 16-bit precision into the other, through fp32 in blocks.
  constexpr int64_t kBlock = 256;
  float block[kBlock];
  const auto* in = static_cast<const uint16_t*>(src);
  auto* out = static_cast<uint16_t*>(dst);
  for (int64_t i = 0; i < n; i += kBlock) {
    const int64_t m = std::min(kBlock, n - i);
    WidenRow(from, in + i, m, block);
    NarrowRowNearest(to, block, m, out + i);
  }
}

}  // namespace crank
