#include "crank/kernels/embedding_bag.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <numeric>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/bf16.h"
#include "gradient_check.h"

namespace crank {
namespace {

// table (4, 2): rows (1, 2), (3, -1), (0.5, 4), (-2, 1).
const std::vector<float> kTable = {1, 2, 3, -1, 0.5f, 4, -2, 1};
// Three examples: one-hot [1], multi-hot [0, 2, 3], empty.
const std::vector<int64_t> kIds = {1, 0, 2, 3};
const std::vector<int64_t> kOffsets = {0, 1, 4, 4};
const std::vector<float> kWeights = {2, 1, 0.5f, 2};

std::vector<float> Pool(Pooling pooling, const float* weights) {
  std::vector<float> out(6, -7.0f);  // garbage: the kernel must overwrite
  EmbeddingBagForward(kTable.data(), 2, kIds.data(), kOffsets.data(), weights, 3, pooling,
                      out.data());
  return out;
}

void ExpectFloats(const std::vector<float>& got, const std::vector<float>& want) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < want.size(); ++i) EXPECT_NEAR(got[i], want[i], 1e-6) << "index " << i;
}

TEST(Pooling, ParsesAndNamesEveryPooling) {
  for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
    EXPECT_EQ(ParsePooling(PoolingName(p)), p);
  }
  EXPECT_EQ(PoolingName(Pooling::kSqrtn), "sqrtn");
  EXPECT_THROW(ParsePooling("max"), InvalidArgument);
  EXPECT_THROW(ParsePooling("Mean"), InvalidArgument);
}

TEST(EmbeddingBagForward, SumPoolsOneHotMultiHotAndEmptyBags) {
  ExpectFloats(Pool(Pooling::kSum, nullptr), {3, -1, -0.5f, 7, 0, 0});
}

TEST(EmbeddingBagForward, MeanDividesByBagSize) {
  ExpectFloats(Pool(Pooling::kMean, nullptr), {3, -1, -0.5f / 3, 7.0f / 3, 0, 0});
}

TEST(EmbeddingBagForward, SqrtnDividesBySqrtOfBagSize) {
  const float r = 1.0f / std::sqrt(3.0f);
  ExpectFloats(Pool(Pooling::kSqrtn, nullptr), {3, -1, -0.5f * r, 7 * r, 0, 0});
}

TEST(EmbeddingBagForward, WeightedSumScalesEachRow) {
  // ex0: 2 * (3, -1); ex1: (1, 2) + 0.5 * (0.5, 4) + 2 * (-2, 1) = (-2.75, 6).
  ExpectFloats(Pool(Pooling::kSum, kWeights.data()), {6, -2, -2.75f, 6, 0, 0});
}

TEST(EmbeddingBagForward, WeightedMeanDividesByWeightSum) {
  ExpectFloats(Pool(Pooling::kMean, kWeights.data()), {3, -1, -2.75f / 3.5f, 6 / 3.5f, 0, 0});
}

TEST(EmbeddingBagForward, WeightedSqrtnDividesByWeightNorm) {
  const float n1 = std::sqrt(1 + 0.25f + 4);
  ExpectFloats(Pool(Pooling::kSqrtn, kWeights.data()), {3, -1, -2.75f / n1, 6 / n1, 0, 0});
}

TEST(EmbeddingBagForward, ZeroWeightBagPoolsToZeros) {
  const std::vector<float> zero = {0, 0, 0, 0};
  for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
    ExpectFloats(Pool(p, zero.data()), {0, 0, 0, 0, 0, 0});
  }
}

TEST(EmbeddingBagCoefficients, AreWeightTimesBagScale) {
  std::vector<float> coef(4);
  EmbeddingBagCoefficients(kOffsets.data(), kWeights.data(), 3, Pooling::kMean, coef.data());
  ExpectFloats(coef, {1, 1 / 3.5f, 0.5f / 3.5f, 2 / 3.5f});
  EmbeddingBagCoefficients(kOffsets.data(), nullptr, 3, Pooling::kSqrtn, coef.data());
  const float r = 1.0f / std::sqrt(3.0f);
  ExpectFloats(coef, {1, r, r, r});
  EmbeddingBagCoefficients(kOffsets.data(), kWeights.data(), 3, Pooling::kSum, coef.data());
  ExpectFloats(coef, kWeights);
}

// Naive reference for any E: out_b = s_b * sum_k w_k table[ids[k]] in double.
std::vector<float> ReferencePool(const std::vector<float>& table, int64_t dim,
                                 const std::vector<int64_t>& ids,
                                 const std::vector<int64_t>& offsets,
                                 const std::vector<float>& weights, Pooling pooling) {
  const int64_t batch = static_cast<int64_t>(offsets.size()) - 1;
  std::vector<float> out(static_cast<size_t>(batch * dim));
  for (int64_t b = 0; b < batch; ++b) {
    double wsum = 0, w2sum = 0;
    std::vector<double> acc(static_cast<size_t>(dim), 0.0);
    for (int64_t k = offsets[b]; k < offsets[b + 1]; ++k) {
      const double w = weights.empty() ? 1.0 : weights[k];
      wsum += w;
      w2sum += w * w;
      for (int64_t e = 0; e < dim; ++e) acc[e] += w * table[ids[k] * dim + e];
    }
    double s = 1.0;
    if (pooling == Pooling::kMean) s = wsum > 0 ? 1.0 / wsum : 0.0;
    if (pooling == Pooling::kSqrtn) s = w2sum > 0 ? 1.0 / std::sqrt(w2sum) : 0.0;
    for (int64_t e = 0; e < dim; ++e) out[b * dim + e] = static_cast<float>(acc[e] * s);
  }
  return out;
}

struct RandomBags {
  std::vector<int64_t> ids, offsets;
  std::vector<float> weights;
};

RandomBags MakeBags(int64_t batch, int64_t vocab, int max_bag, bool weighted, Rng& rng) {
  RandomBags r;
  r.offsets.push_back(0);
  for (int64_t b = 0; b < batch; ++b) {
    const int64_t len = static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(max_bag) + 1));
    for (int64_t i = 0; i < len; ++i) {
      r.ids.push_back(static_cast<int64_t>(rng.UniformInt(static_cast<uint64_t>(vocab))));
      if (weighted) r.weights.push_back(0.25f + rng.UniformFloat());
    }
    r.offsets.push_back(static_cast<int64_t>(r.ids.size()));
  }
  return r;
}

TEST(EmbeddingBagForward, MatchesReferenceForEveryDim) {
  Rng rng(3);
  for (int64_t dim : {1, 3, 4, 8, 16, 32, 64, 128, 130}) {
    for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
      const int64_t vocab = 50, batch = 40;
      std::vector<float> table(static_cast<size_t>(vocab * dim));
      for (float& x : table) x = 2 * rng.UniformFloat() - 1;
      const RandomBags bags = MakeBags(batch, vocab, 4, dim % 2 == 0, rng);
      std::vector<float> out(static_cast<size_t>(batch * dim));
      EmbeddingBagForward(table.data(), dim, bags.ids.data(), bags.offsets.data(),
                          bags.weights.empty() ? nullptr : bags.weights.data(), batch, p,
                          out.data());
      const std::vector<float> want =
          ReferencePool(table, dim, bags.ids, bags.offsets, bags.weights, p);
      for (size_t i = 0; i < want.size(); ++i) {
        ASSERT_NEAR(out[i], want[i], 1e-5) << "dim " << dim << " pooling " << PoolingName(p);
      }
    }
  }
}

TEST(EmbeddingBagForwardRange, RangesTogetherGiveTheWholeBatchBits) {
  Rng rng(5);
  for (int64_t dim : {3, 16, 32}) {
    for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
      const int64_t vocab = 60, batch = 300;
      std::vector<float> table(static_cast<size_t>(vocab * dim));
      for (float& x : table) x = 2 * rng.UniformFloat() - 1;
      std::vector<uint16_t> table16(table.size());
      for (size_t i = 0; i < table.size(); ++i) table16[i] = FloatToBf16(table[i]);
      const RandomBags bags = MakeBags(batch, vocab, 3, dim == 16, rng);
      const float* w = bags.weights.empty() ? nullptr : bags.weights.data();
      const size_t n = static_cast<size_t>(batch * dim);
      std::vector<float> whole(n), whole16(n), parts(n, -7.0f), parts16(n, -7.0f);
      EmbeddingBagForward(table.data(), dim, bags.ids.data(), bags.offsets.data(), w, batch, p,
                          whole.data());
      EmbeddingBagForward16(EmbeddingPrecision::kBf16, table16.data(), dim, bags.ids.data(),
                            bags.offsets.data(), w, batch, p, whole16.data());
      // Uneven ranges, an empty one among them, in reverse order.
      const std::vector<int64_t> cuts = {0, 1, 1, 97, 250, batch};
      for (size_t c = cuts.size() - 1; c > 0; --c) {
        EmbeddingBagForwardRange(table.data(), dim, bags.ids.data(), bags.offsets.data(), w, batch,
                                 cuts[c - 1], cuts[c], p, parts.data());
        EmbeddingBagForward16Range(EmbeddingPrecision::kBf16, table16.data(), dim, bags.ids.data(),
                                   bags.offsets.data(), w, batch, cuts[c - 1], cuts[c], p,
                                   parts16.data());
      }
      EXPECT_EQ(0, std::memcmp(parts.data(), whole.data(), n * sizeof(float))) << "dim " << dim;
      EXPECT_EQ(0, std::memcmp(parts16.data(), whole16.data(), n * sizeof(float))) << "dim " << dim;
    }
  }
}

TEST(EmbeddingBagForwardRange, RangeLeavesTheOtherRowsAlone) {
  std::vector<float> out(6, -7.0f);
  EmbeddingBagForwardRange(kTable.data(), 2, kIds.data(), kOffsets.data(), nullptr, 3, 1, 2,
                           Pooling::kSum, out.data());
  ExpectFloats(out, {-7, -7, 1 + 0.5f - 2, 2 + 4 + 1, -7, -7});
}

TEST(GroupIds, MatchesStableSortForAnyIdRange) {
  Rng rng(11);
  for (int64_t bound :
       {int64_t{1}, int64_t{7}, int64_t{2048}, int64_t{2049}, int64_t{100000}, int64_t{1} << 40}) {
    for (int64_t n : {1, 2, 33, 5000}) {
      std::vector<int64_t> ids(static_cast<size_t>(n));
      for (int64_t& id : ids) {
        // Few distinct values so that runs are long, plus the extremes of the range.
        id = static_cast<int64_t>(
            rng.UniformInt(static_cast<uint64_t>(std::min<int64_t>(bound, 40))));
        if (rng.UniformInt(4) == 0) id = bound - 1 - id;
      }
      std::vector<int64_t> order(static_cast<size_t>(n)),
          scratch(static_cast<size_t>(GroupIdsScratchSize(n)));
      std::vector<int64_t> unique(static_cast<size_t>(n)), segments(static_cast<size_t>(n) + 1);
      const int64_t u = GroupIds(ids.data(), n, bound, order.data(), scratch.data(), unique.data(),
                                 segments.data());

      std::vector<int64_t> want(static_cast<size_t>(n));
      std::iota(want.begin(), want.end(), 0);
      std::stable_sort(want.begin(), want.end(),
                       [&](int64_t a, int64_t b) { return ids[a] < ids[b]; });
      EXPECT_EQ(order, want) << "bound " << bound << " n " << n;
      std::vector<int64_t> distinct = ids;
      std::sort(distinct.begin(), distinct.end());
      distinct.erase(std::unique(distinct.begin(), distinct.end()), distinct.end());
      ASSERT_EQ(u, static_cast<int64_t>(distinct.size()));
      unique.resize(static_cast<size_t>(u));
      EXPECT_EQ(unique, distinct);
      EXPECT_EQ(segments[0], 0);
      EXPECT_EQ(segments[u], n);
      for (int64_t i = 0; i < u; ++i) {
        ASSERT_LT(segments[i], segments[i + 1]);
        for (int64_t j = segments[i]; j < segments[i + 1]; ++j) EXPECT_EQ(ids[order[j]], unique[i]);
      }
    }
  }
}

TEST(GroupIds, EmptyInputHasNoGroups) {
  int64_t segments[1] = {-1};
  EXPECT_EQ(GroupIds(nullptr, 0, 10, nullptr, nullptr, nullptr, segments), 0);
  EXPECT_EQ(segments[0], 0);
}

TEST(EmbeddingBagBackward, SumsCoefficientTimesOutputGradientPerRow) {
  // Weighted mean over the hand-computed bags; id 1 (ex0) and 0, 2, 3 (ex1).
  std::vector<float> coef(4);
  EmbeddingBagCoefficients(kOffsets.data(), kWeights.data(), 3, Pooling::kMean, coef.data());
  const std::vector<float> d_out = {1, 2, 3, 4, 5, 6};
  std::vector<const float*> d_rows = {&d_out[0], &d_out[2], &d_out[2], &d_out[2]};
  std::vector<int64_t> order(4), scratch(12), unique(4), segments(5);
  const int64_t u =
      GroupIds(kIds.data(), 4, 4, order.data(), scratch.data(), unique.data(), segments.data());
  ASSERT_EQ(u, 4);
  std::vector<float> grad(8, -7.0f);
  EmbeddingBagBackward(u, 2, segments.data(), order.data(), coef.data(), d_rows.data(),
                       grad.data());
  ExpectFloats(grad, {3 / 3.5f, 4 / 3.5f, 1, 2, 1.5f / 3.5f, 2 / 3.5f, 6 / 3.5f, 8 / 3.5f});
}

TEST(EmbeddingBagBackward, RepeatedIdsSumInOneRow) {
  // One bag [2, 2, 0] and one bag [2], sum pooling: row 2 gets 2 * d0 + d1, row 0 gets d0.
  const std::vector<int64_t> ids = {2, 2, 0, 2}, offsets = {0, 3, 4};
  std::vector<float> coef(4);
  EmbeddingBagCoefficients(offsets.data(), nullptr, 2, Pooling::kSum, coef.data());
  const std::vector<float> d_out = {1, -1, 10, 20};
  std::vector<const float*> d_rows = {&d_out[0], &d_out[0], &d_out[0], &d_out[2]};
  std::vector<int64_t> order(4), scratch(12), unique(4), segments(5);
  const int64_t u =
      GroupIds(ids.data(), 4, 3, order.data(), scratch.data(), unique.data(), segments.data());
  ASSERT_EQ(u, 2);
  EXPECT_EQ(unique[0], 0);
  EXPECT_EQ(unique[1], 2);
  std::vector<float> grad(4);
  EmbeddingBagBackward(u, 2, segments.data(), order.data(), coef.data(), d_rows.data(),
                       grad.data());
  ExpectFloats(grad, {1, -1, 12, 18});
}

// The kernels chained as a layer does, scattered into a dense (V, E) gradient.
std::vector<float> DenseGradient(const RandomBags& bags, int64_t vocab, int64_t dim,
                                 Pooling pooling, const Tensor& d_out) {
  const int64_t batch = static_cast<int64_t>(bags.offsets.size()) - 1;
  const int64_t n = static_cast<int64_t>(bags.ids.size());
  std::vector<float> coef(static_cast<size_t>(n));
  EmbeddingBagCoefficients(bags.offsets.data(),
                           bags.weights.empty() ? nullptr : bags.weights.data(), batch, pooling,
                           coef.data());
  std::vector<const float*> d_rows(static_cast<size_t>(n));
  for (int64_t b = 0; b < batch; ++b) {
    for (int64_t k = bags.offsets[b]; k < bags.offsets[b + 1]; ++k) d_rows[k] = d_out.row(b);
  }
  std::vector<int64_t> order(n), scratch(GroupIdsScratchSize(n)), unique(n), segments(n + 1);
  const int64_t u = GroupIds(bags.ids.data(), n, vocab, order.data(), scratch.data(), unique.data(),
                             segments.data());
  std::vector<float> rows(static_cast<size_t>(u * dim));
  EmbeddingBagBackward(u, dim, segments.data(), order.data(), coef.data(), d_rows.data(),
                       rows.data());
  std::vector<float> dense(static_cast<size_t>(vocab * dim), 0.0f);
  for (int64_t i = 0; i < u; ++i) {
    std::copy(rows.begin() + i * dim, rows.begin() + (i + 1) * dim,
              dense.begin() + unique[i] * dim);
  }
  return dense;
}

TEST(EmbeddingBagBackward, MatchesFiniteDifferencesForEveryPooling) {
  Rng rng(5);
  for (Pooling p : {Pooling::kSum, Pooling::kMean, Pooling::kSqrtn}) {
    for (bool weighted : {false, true}) {
      const int64_t vocab = 9, dim = 5, batch = 6;
      std::vector<float> table(static_cast<size_t>(vocab * dim));
      for (float& x : table) x = 2 * rng.UniformFloat() - 1;
      const RandomBags bags = MakeBags(batch, vocab, 4, weighted, rng);
      Tensor out({batch, dim});
      testing::ProjectionLoss proj(out.shape(), 17);
      auto loss = [&] {
        EmbeddingBagForward(table.data(), dim, bags.ids.data(), bags.offsets.data(),
                            weighted ? bags.weights.data() : nullptr, batch, p, out.data());
        return proj(out);
      };
      const std::vector<float> dense = DenseGradient(bags, vocab, dim, p, proj.Gradient());
      testing::GradCheckOptions opts;
      opts.samples = static_cast<int>(table.size());  // every entry, used rows or not
      testing::ExpectGradientMatches(
          loss, table.data(), dense.data(), static_cast<int64_t>(table.size()),
          std::string("table, ") + std::string(PoolingName(p)) + (weighted ? ", weighted" : ""),
          opts);
    }
  }
}

}  // namespace
}  // namespace crank
