#ifndef CRANK_KERNELS_EMBEDDING_PRECISION_H_
#define CRANK_KERNELS_EMBEDDING_PRECISION_H_

// 16-bit storage of embedding tables: bf16 (8 exponent, 7 mantissa bits) or IEEE fp16 (5, 10),
// with fp32 arithmetic. A 16-bit row is widened to float exactly, updated in float, and narrowed
// back with stochastic rounding (as FBGEMM's 16-bit embedding tables do): a value between two
// representable neighbours lo < x < hi rounds to hi with probability (x - lo) / (hi - lo), so a
// small update survives in expectation instead of being rounded away every time.
//
// Determinism: the random bits are a counter-based hash of (seed, step, row, element), never a
// shared generator, so a narrowed row depends only on its own value and coordinates: bit-identical
// across runs and thread counts, and a resumed run draws what the uninterrupted one did.
//
// fp16 saturates: finite values beyond +-65504 become +-65504 (never infinity); values below
// 2^-24 in magnitude round stochastically between 0 and 2^-24. NaN stays NaN. bf16 keeps the
// float exponent range; subnormal floats keep their (truncated or rounded-up) bf16 pattern.
// Stateless and thread-safe; no allocation.

#include <cstdint>
#include <string_view>

#if defined(__F16C__)
#include <immintrin.h>
#endif

namespace crank {

enum class EmbeddingPrecision { kFp32, kBf16, kFp16 };

// "fp32" | "bf16" | "fp16"; anything else throws InvalidArgument naming the accepted values.
EmbeddingPrecision ParseEmbeddingPrecision(std::string_view name);
// The inverse of ParseEmbeddingPrecision.
std::string_view EmbeddingPrecisionName(EmbeddingPrecision precision);
// Bytes per stored element: 4 or 2.
int64_t EmbeddingPrecisionBytes(EmbeddingPrecision precision);

// The float an fp16 value stands for: exact, subnormals included; a NaN keeps its sign and
// payload and is made quiet (as the F16C instruction vcvtph2ps does). Fp16ToFloat uses F16C
// where the build targets it (-march with F16C: __F16C__), Fp16ToFloatPortable never; the two
// give the same bits for every input.
float Fp16ToFloatPortable(uint16_t h);
inline float Fp16ToFloat(uint16_t h) {
#if defined(__F16C__)
  return _cvtsh_ss(h);
#else
  return Fp16ToFloatPortable(h);
#endif
}
// Whether Fp16ToFloat and WidenRow run on F16C instructions in this build.
constexpr bool kFp16WidensWithF16c =
#if defined(__F16C__)
    true;
#else
    false;
#endif
// x rounded to the nearest fp16, ties to even (saturating as above): for converting an fp32
// table once.
uint16_t FloatToFp16(float x);
// x rounded stochastically using the random bits r (uniform over 32 bits).
uint16_t FloatToFp16Stochastic(float x, uint32_t r);
uint16_t FloatToBf16Stochastic(float x, uint32_t r);

// The 32 random bits that element e of table row `row` is narrowed with at optimizer step
// `step` (a counter-based hash; seed distinguishes tables and runs).
inline uint32_t RoundingBits(uint64_t seed, int64_t step, int64_t row, int64_t e) {
  auto mix = [](uint64_t z) {  // SplitMix64's finaliser
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
  };
  const uint64_t key = mix(seed + 0x9e3779b97f4a7c15ULL * (static_cast<uint64_t>(step) + 1));
  return static_cast<uint32_t>(
      mix(key ^ (static_cast<uint64_t>(row) * 0xd1b54a32d192ed03ULL + static_cast<uint64_t>(e))) >>
      32);
}

// dst (n) = the floats of the 16-bit row src (n) of the given precision (kBf16 or kFp16).
void WidenRow(EmbeddingPrecision precision, const uint16_t* src, int64_t n, float* dst);
// dst (n) = src (n) narrowed stochastically with RoundingBits(seed, step, row, e) for element e.
void NarrowRowStochastic(EmbeddingPrecision precision, const float* src, int64_t n, uint64_t seed,
                         int64_t step, int64_t row, uint16_t* dst);
// dst (n) = src (n) rounded to nearest (ties to even): the one-time conversion of a table.
void NarrowRowNearest(EmbeddingPrecision precision, const float* src, int64_t n, uint16_t* dst);
// dst (n values of precision `to`) = src (n values of precision `from`); a value is a float for
// kFp32 and a uint16_t otherwise. Bit for bit when the precisions are equal, else widened exactly
// and/or rounded to nearest (bf16 <-> fp16 through fp32): loading a table saved in one precision
// into another.
void ConvertValues(EmbeddingPrecision from, const void* src, EmbeddingPrecision to, void* dst,
                   int64_t n);

}  // namespace crank

#endif  // CRANK_KERNELS_EMBEDDING_PRECISION_H_
