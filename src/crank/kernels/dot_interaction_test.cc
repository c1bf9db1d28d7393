#include "crank/kernels/dot_interaction.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"

namespace crank {
namespace {

struct Mode {
  bool self_interaction;
  bool skip_gather;
};
const Mode kModes[] = {{false, false}, {true, false}, {false, true}, {true, true}};

std::vector<float> Random(int64_t n, uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(static_cast<size_t>(n));
  for (float& x : v) x = 2.0f * rng.UniformFloat() - 1.0f;
  return v;
}

bool Gathered(Mode m, int64_t i, int64_t j) { return m.self_interaction ? j <= i : j < i; }

// Z = T T^T per example in double, laid out as the kernel's output.
std::vector<double> NaiveForward(const std::vector<float>& t, int64_t batch, int64_t f, int64_t e,
                                 Mode m) {
  std::vector<double> out;
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t i = 0; i < f; ++i) {
      for (int64_t j = 0; j < f; ++j) {
        double z = 0.0;
        for (int64_t k = 0; k < e; ++k) {
          z += double(t[(b * f + i) * e + k]) * t[(b * f + j) * e + k];
        }
        if (Gathered(m, i, j)) {
          out.push_back(z);
        } else if (m.skip_gather) {
          out.push_back(0.0);
        }
      }
    }
  }
  return out;
}

// dT_i = sum_j (dZ[i][j] + dZ[j][i]) T_j over the gathered entries, in double.
std::vector<double> NaiveBackward(const std::vector<float>& d_out, const std::vector<float>& t,
                                  int64_t batch, int64_t f, int64_t e, Mode m) {
  const int64_t width = DotInteractionOutputWidth(f, m.self_interaction, m.skip_gather);
  std::vector<double> d_t(t.size(), 0.0);
  for (int64_t b = 0; b < batch; ++b) {
    std::vector<double> dz(static_cast<size_t>(f * f), 0.0);
    int64_t k = 0;
    for (int64_t i = 0; i < f; ++i) {
      for (int64_t j = 0; j < f; ++j) {
        if (Gathered(m, i, j)) {
          dz[i * f + j] = d_out[b * width + k++];
        } else if (m.skip_gather) {
          ++k;
        }
      }
    }
    for (int64_t i = 0; i < f; ++i) {
      for (int64_t j = 0; j < f; ++j) {
        const double g = dz[i * f + j] + dz[j * f + i];
        for (int64_t c = 0; c < e; ++c) d_t[(b * f + i) * e + c] += g * t[(b * f + j) * e + c];
      }
    }
  }
  return d_t;
}

// Every mode at one shape: forward and backward against the naive double computation. The
// output and gradient buffers start as garbage, which the kernels must overwrite.
void CheckShape(int64_t batch, int64_t f, int64_t e) {
  for (Mode m : kModes) {
    SCOPED_TRACE("F=" + std::to_string(f) + " E=" + std::to_string(e) +
                 " self=" + std::to_string(m.self_interaction) +
                 " skip_gather=" + std::to_string(m.skip_gather));
    const int64_t width = DotInteractionOutputWidth(f, m.self_interaction, m.skip_gather);
    const auto t = Random(batch * f * e, 7);
    std::vector<float> out(static_cast<size_t>(batch * width), 123.0f);
    DotInteractionForward(t.data(), batch, f, e, m.self_interaction, m.skip_gather, out.data(),
                          width);
    const auto want = NaiveForward(t, batch, f, e, m);
    ASSERT_EQ(want.size(), out.size());
    for (size_t k = 0; k < want.size(); ++k) ASSERT_NEAR(out[k], want[k], 1e-4) << "output " << k;

    const auto d_out = Random(batch * width, 8);
    std::vector<float> d_t(t.size(), -55.0f);
    DotInteractionBackward(d_out.data(), width, t.data(), batch, f, e, m.self_interaction,
                           m.skip_gather, d_t.data());
    const auto want_d = NaiveBackward(d_out, t, batch, f, e, m);
    for (size_t k = 0; k < want_d.size(); ++k) ASSERT_NEAR(d_t[k], want_d[k], 1e-3) << "d_t " << k;
  }
}

TEST(DotInteractionKernel, MatchesNaiveAtTheDlrmShape) { CheckShape(5, 27, 16); }

TEST(DotInteractionKernel, MatchesNaiveWithWideEmbeddings) {
  CheckShape(3, 20, 32);
  CheckShape(2, 9, 64);
}

TEST(DotInteractionKernel, MatchesNaiveAtTheSmallPathLimits) {
  CheckShape(2, 64, 8);   // 64 features: four 16-wide column blocks
  CheckShape(2, 17, 64);  // one feature past a 16-wide block, the widest embeddings
  CheckShape(3, 1, 16);   // a single feature: nothing gathered without self interaction
}

TEST(DotInteractionKernel, MatchesNaiveBeyondTheSmallPath) {
  CheckShape(2, 70, 5);   // more features than the small path holds
  CheckShape(2, 6, 100);  // wider embeddings than the small path holds
}

TEST(DotInteractionKernel, ResultsDoNotDependOnTheBatchPosition) {
  // Example b of a batch gives the same bits as the same example alone.
  const int64_t f = 27, e = 16, batch = 64;
  const int64_t width = DotInteractionOutputWidth(f, false, false);
  const auto t = Random(batch * f * e, 9);
  std::vector<float> all(static_cast<size_t>(batch * width));
  DotInteractionForward(t.data(), batch, f, e, false, false, all.data(), width);
  std::vector<float> one(static_cast<size_t>(width));
  DotInteractionForward(t.data() + 37 * f * e, 1, f, e, false, false, one.data(), width);
  for (int64_t k = 0; k < width; ++k) EXPECT_EQ(one[k], all[37 * width + k]);
}

TEST(DotInteractionKernel, ABandOfAWiderMatrixGivesThePackedBits) {
  // The output written into columns [lead, lead + width) of rows `ld` wide, and the gradient
  // read from such a band: the packed results bit for bit, the other columns untouched. Both
  // paths (small and general), every mode.
  for (const auto& [f, e] : {std::pair<int64_t, int64_t>{27, 16}, {70, 5}}) {
    for (Mode m : kModes) {
      SCOPED_TRACE("F=" + std::to_string(f) + " self=" + std::to_string(m.self_interaction) +
                   " skip_gather=" + std::to_string(m.skip_gather));
      const int64_t batch = 7, lead = 3;
      const int64_t width = DotInteractionOutputWidth(f, m.self_interaction, m.skip_gather);
      const int64_t ld = lead + width + 5;
      const auto t = Random(batch * f * e, 21);
      std::vector<float> packed(static_cast<size_t>(batch * width));
      DotInteractionForward(t.data(), batch, f, e, m.self_interaction, m.skip_gather, packed.data(),
                            width);
      std::vector<float> wide(static_cast<size_t>(batch * ld), -7.0f);
      DotInteractionForward(t.data(), batch, f, e, m.self_interaction, m.skip_gather,
                            wide.data() + lead, ld);
      for (int64_t b = 0; b < batch; ++b) {
        for (int64_t k = 0; k < ld; ++k) {
          const float got = wide[static_cast<size_t>(b * ld + k)];
          if (k < lead || k >= lead + width) {
            ASSERT_EQ(got, -7.0f) << "column " << k << " outside the band changed";
          } else {
            ASSERT_EQ(got, packed[static_cast<size_t>(b * width + k - lead)]) << b << "," << k;
          }
        }
      }
      const auto d_packed = Random(batch * width, 22);
      std::vector<float> d_wide(static_cast<size_t>(batch * ld), 1e30f);
      for (int64_t b = 0; b < batch; ++b) {
        std::copy_n(d_packed.begin() + b * width, width, d_wide.begin() + b * ld + lead);
      }
      std::vector<float> want(t.size()), got(t.size());
      DotInteractionBackward(d_packed.data(), width, t.data(), batch, f, e, m.self_interaction,
                             m.skip_gather, want.data());
      DotInteractionBackward(d_wide.data() + lead, ld, t.data(), batch, f, e, m.self_interaction,
                             m.skip_gather, got.data());
      ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
    }
  }
}

TEST(DotInteractionKernel, FeaturesHeldApartGiveTheStackedBits) {
  // DotInteractionForwardFeatures on F separate (B, E) matrices equals DotInteractionForward on
  // the same rows stacked (B, F, E), bit for bit: both paths (small and general), every mode,
  // batches of one, of a part block and of several blocks, on one and two threads, into a band
  // of a wider output whose other columns stay untouched.
  const int before = ComputeThreads();
  for (const auto& [f, e] : {std::pair<int64_t, int64_t>{27, 16}, {9, 64}, {70, 5}, {6, 100}}) {
    for (const int64_t batch : {int64_t{0}, int64_t{1}, int64_t{33}, int64_t{300}}) {
      for (const int threads : {1, 2}) {
        SetComputeThreads(threads);
        for (Mode m : kModes) {
          SCOPED_TRACE("F=" + std::to_string(f) + " E=" + std::to_string(e) +
                       " B=" + std::to_string(batch) + " threads=" + std::to_string(threads) +
                       " self=" + std::to_string(m.self_interaction) +
                       " skip_gather=" + std::to_string(m.skip_gather));
          const int64_t width = DotInteractionOutputWidth(f, m.self_interaction, m.skip_gather);
          const int64_t lead = 2, ld = lead + width + 3;
          std::vector<std::vector<float>> features;
          std::vector<const float*> rows;
          for (int64_t i = 0; i < f; ++i) {
            features.push_back(Random(batch * e, 100 + static_cast<uint64_t>(i)));
            rows.push_back(features.back().data());
          }
          std::vector<float> t(static_cast<size_t>(batch * f * e));
          for (int64_t b = 0; b < batch; ++b) {
            for (int64_t i = 0; i < f; ++i) {
              std::copy_n(features[static_cast<size_t>(i)].begin() + b * e, e,
                          t.begin() + (b * f + i) * e);
            }
          }
          // At least one row, so that a batch of 0 still compares two allocated buffers.
          const auto out_size = static_cast<size_t>(std::max<int64_t>(batch, 1) * ld);
          std::vector<float> want(out_size, -7.0f);
          DotInteractionForward(t.data(), batch, f, e, m.self_interaction, m.skip_gather,
                                want.data() + lead, ld);
          std::vector<float> got(out_size, -7.0f);
          DotInteractionForwardFeatures(rows.data(), batch, f, e, m.self_interaction, m.skip_gather,
                                        got.data() + lead, ld);
          ASSERT_EQ(std::memcmp(want.data(), got.data(), want.size() * sizeof(float)), 0);
        }
      }
    }
  }
  SetComputeThreads(before);
}

}  // namespace
}  // namespace crank
