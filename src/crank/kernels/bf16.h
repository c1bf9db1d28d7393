#ifndef CRANK_KERNELS_BF16_H_
#define CRANK_KERNELS_BF16_H_

// bfloat16 (the upper 16 bits of an IEEE float: 8 exponent bits, 7 mantissa bits) conversion
// for the bf16 GEMM path. Rounding is the one the AVX512-BF16 instruction vcvtneps2bf16 applies,
// so the vector and scalar paths agree bit for bit: round to nearest, ties to even; subnormal
// inputs become a zero of the same sign; NaN stays NaN (quietened); overflow rounds to infinity.

#include <cstdint>
#include <cstring>

namespace crank {

// One float rounded to bf16 (the rounding stated above).
inline uint16_t FloatToBf16(float x) {
  uint32_t bits;
  std::memcpy(&bits, &x, sizeof(bits));
  if ((bits & 0x7f800000u) == 0x7f800000u && (bits & 0x007fffffu) != 0) {
    return static_cast<uint16_t>((bits >> 16) | 0x0040u);  // NaN: keep sign and payload, quiet
  }
  if ((bits & 0x7f800000u) == 0) bits &= 0x80000000u;  // subnormal -> signed zero
  const uint32_t lsb = (bits >> 16) & 1u;
  return static_cast<uint16_t>((bits + 0x7fffu + lsb) >> 16);
}

// The float a bf16 value stands for (exact).
inline float Bf16ToFloat(uint16_t h) {
  const uint32_t bits = static_cast<uint32_t>(h) << 16;
  float x;
  std::memcpy(&x, &bits, sizeof(x));
  return x;
}

// True when the CPU has the AVX512-BF16 instructions (vcvtneps2bf16, vdpbf16ps).
bool CpuHasAvx512Bf16();

// dst (rows, cols), dense (row stride cols) = src (rows, cols) with row stride ld >= cols, each
// element rounded with FloatToBf16. Uses vcvtneps2bf16 where the CPU has it and OpenMP threads
// (ComputeThreads) on large matrices; the result is the same either way. No allocation.
// Preconditions (CRANK_CHECK): rows, cols >= 0, ld >= cols; dst does not overlap src.
void RoundToBf16(const float* src, int64_t rows, int64_t cols, int64_t ld, uint16_t* dst);

}  // namespace crank

#endif  // CRANK_KERNELS_BF16_H_
