#ifndef CRANK_BASE_RNG_H_
#define CRANK_BASE_RNG_H_

// A small, portable, seedable random generator (SplitMix64-seeded xoshiro256**).
// Its output is identical on every platform and compiler (unlike <random>'s distributions),
// which makes initialisation and shuffling bit-reproducible from a seed. Not thread-safe:
// give each thread its own, e.g. Rng(seed).Fork(stream).

#include <array>
#include <cstdint>

namespace crank {

class Rng {
 public:
  explicit Rng(uint64_t seed = 0);

  uint64_t NextU64();
  // Uniform in [0, 1) with 24 random bits (exactly representable as float).
  float UniformFloat();
  // Uniform in [0, 1) with 53 random bits.
  double UniformDouble();
  // Uniform integer in [0, n), n > 0 (Lemire's unbiased method).
  uint64_t UniformInt(uint64_t n);
  // Standard normal (Box-Muller, both values used).
  double Normal();
  // Normal(0, stddev) re-drawn until |x| <= 2 * stddev, as tf.keras TruncatedNormal.
  double TruncatedNormal(double stddev);
  // An independent generator derived from this one's seed and a stream id.
  Rng Fork(uint64_t stream) const;

  // Full state, for checkpoints.
  std::array<uint64_t, 4> State() const { return s_; }
  void SetState(const std::array<uint64_t, 4>& s) {
    s_ = s;
    has_spare_ = false;
  }

 private:
  std::array<uint64_t, 4> s_;
  uint64_t seed_;
  bool has_spare_ = false;
  double spare_ = 0.0;
};

// SplitMix64 finaliser: a good 64-bit mixing function (also used for hashing ids).
uint64_t Mix64(uint64_t x);

}  // namespace crank

#endif  // CRANK_BASE_RNG_H_
