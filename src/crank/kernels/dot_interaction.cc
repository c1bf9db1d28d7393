#include "crank/kernels/dot_interaction.h"

#include <algorithm>
#include <cstring>

#if defined(__AVX512F__)
#include <immintrin.h>
#endif

#include "crank/base/error.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Examples below this much work (multiply-adds) run on the calling thread only.
constexpr int64_t kMinParallelWork = 1 << 15;

// The per-example small-matrix path holds T^T (E, F rounded up to 16) and the dense symmetric
// gradient G (F, F) on the stack; larger shapes take the row-by-row path.
constexpr int64_t kLanes = 16;
constexpr int64_t kMaxFastFeatures = 64;
constexpr int64_t kMaxFastDim = 64;
// Rows of Z computed together by the small-matrix path.
constexpr int kRowGroup = 4;
// Examples per task of DotInteractionForwardFeatures (handed out dynamically), and how many
// examples ahead it prefetches the feature rows.
constexpr int64_t kFeaturesBlock = 32;
constexpr int64_t kFeaturesPrefetch = 2;

// Prefetches the cache lines of n floats at p (at most 256 bytes).
inline void PrefetchBytes(const float* p, int64_t n) {
  const char* c = reinterpret_cast<const char*>(p);
  const int64_t bytes = std::min<int64_t>(n * static_cast<int64_t>(sizeof(float)), 256);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off);
}

// Position of Z[i][j] (j <= i, j < i without self interaction) in an example's output row.
inline int64_t OutputIndex(int64_t i, int64_t j, int64_t num_features, bool self_interaction,
                           bool skip_gather) {
  if (skip_gather) return i * num_features + j;
  return self_interaction ? i * (i + 1) / 2 + j : i * (i - 1) / 2 + j;
}

// dst[j] = <ti, row_of(j)> for j in [0, n), row_of(j) a row of E floats. Four rows at a time so
// each load of ti feeds four products. The general path, for shapes beyond the small-matrix one.
template <typename RowOf>
inline void DotWithRows(const float* ti, RowOf row_of, int64_t n, int64_t dim, float* dst) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = row_of(j);
    const float* r1 = row_of(j + 1);
    const float* r2 = row_of(j + 2);
    const float* r3 = row_of(j + 3);
    float s0 = 0.0f, s1 = 0.0f, s2 = 0.0f, s3 = 0.0f;
#pragma omp simd reduction(+ : s0, s1, s2, s3)
    for (int64_t e = 0; e < dim; ++e) {
      const float v = ti[e];
      s0 += v * r0[e];
      s1 += v * r1[e];
      s2 += v * r2[e];
      s3 += v * r3[e];
    }
    dst[j] = s0;
    dst[j + 1] = s1;
    dst[j + 2] = s2;
    dst[j + 3] = s3;
  }
  for (; j < n; ++j) {
    const float* r = row_of(j);
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t e = 0; e < dim; ++e) s += ti[e] * r[e];
    dst[j] = s;
  }
}

// The widest vector register the build targets: sixteen floats with AVX-512, else eight
// (AVX2). A 16-float vector type on an AVX2 build is lowered through the stack (each operation
// stored and reloaded in halves), which made this kernel ~15x slower there.
#if defined(__AVX512F__)
constexpr int kVecFloats = 16;
#else
constexpr int kVecFloats = 8;
#endif
typedef float Vec __attribute__((vector_size(kVecFloats * sizeof(float))));
constexpr int kVecsPerLane = kLanes / kVecFloats;  // vectors per 16-float block

// The first n floats of the accumulators acc (n <= kVecs * kVecFloats) -> dst.
template <int kVecs>
inline void StoreFirst(const Vec* acc, int64_t n, float* dst) {
#if defined(__AVX512F__)
  // Masked vector stores: a variable-length memcpy here compiles to `rep movs`, whose start-up
  // cost is that of the whole row's arithmetic.
  for (int k = 0; k < kVecs && n > 0; ++k, n -= kVecFloats) {
    const __mmask16 mask = n >= kVecFloats ? __mmask16(0xffff) : __mmask16((1u << n) - 1u);
    __m512 v;
    std::memcpy(&v, &acc[k], sizeof(v));
    _mm512_mask_storeu_ps(dst + kVecFloats * k, mask, v);
  }
#else
  std::memcpy(dst, acc, static_cast<size_t>(n) * sizeof(float));
#endif
}

// dst[r][j] = sum_e ti[r][e] * tt[e][j] for j in [0, n[r]), n[r] <= 16 kBlocks, for kRows rows
// of Z = T T^T at once, from the transposed features tt (E, ld), 64-byte aligned. The
// accumulators stay in registers; each e is one load of tt's vectors, shared by the rows, and one
// broadcast and multiply-add per row and vector. The rows' chains are independent, so the
// multiply-adds overlap instead of each waiting for the one before it; each entry is still the
// same chain over e = 0, 1, ... as when its row is computed alone.
template <int kBlocks, int kRows>
inline void RowsTimesTransposed(const float* const* ti, const float* tt, int64_t dim, int64_t ld,
                                const int64_t* n, float* const* dst) {
  constexpr int kVecs = kBlocks * kVecsPerLane;
  Vec acc[kRows][kVecs] = {};
  for (int64_t e = 0; e < dim; ++e) {
    const float* col = tt + e * ld;
    Vec c[kVecs];  // memcpy: a vector load without type punning
    for (int k = 0; k < kVecs; ++k) std::memcpy(&c[k], col + kVecFloats * k, sizeof(c[k]));
    for (int r = 0; r < kRows; ++r) {
      const float v = ti[r][e];
      for (int k = 0; k < kVecs; ++k) acc[r][k] += v * c[k];
    }
  }
  for (int r = 0; r < kRows; ++r) StoreFirst<kVecs>(acc[r], n[r], dst[r]);
}

#if defined(__AVX512F__)
// Rows j0 .. j0 + 15 of 16 floats (row_of(j); zeros for j >= f) -> their transpose: column e at
// dst + e * ld, 16 floats, 64-byte aligned. Four rounds of in-register shuffles instead of 256
// scalar stores; the values are moved, never computed, so the bits are those of the scalar copy.
template <typename RowOf>
inline void Transpose16Rows(RowOf row_of, int64_t j0, int64_t f, float* dst, int64_t ld) {
  // The zero-masked forms with every lane selected: the plain ones pass GCC 12 an undefined
  // source that -Wmaybe-uninitialized reports; the instructions are the same.
  constexpr __mmask16 kAll = 0xffff;
  constexpr __mmask8 kAll8 = 0xff;
  __m512 r[16], t[16];
  for (int k = 0; k < 16; ++k)
    r[k] = j0 + k < f ? _mm512_loadu_ps(row_of(j0 + k)) : _mm512_setzero_ps();
  for (int i = 0; i < 8; ++i) {
    t[2 * i] = _mm512_maskz_unpacklo_ps(kAll, r[2 * i], r[2 * i + 1]);
    t[2 * i + 1] = _mm512_maskz_unpackhi_ps(kAll, r[2 * i], r[2 * i + 1]);
  }
  for (int i = 0; i < 4; ++i) {
    const __m512d a = _mm512_castps_pd(t[4 * i]), b = _mm512_castps_pd(t[4 * i + 2]);
    const __m512d c = _mm512_castps_pd(t[4 * i + 1]), d = _mm512_castps_pd(t[4 * i + 3]);
    r[4 * i] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, a, b));
    r[4 * i + 1] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, a, b));
    r[4 * i + 2] = _mm512_castpd_ps(_mm512_maskz_unpacklo_pd(kAll8, c, d));
    r[4 * i + 3] = _mm512_castpd_ps(_mm512_maskz_unpackhi_pd(kAll8, c, d));
  }
  for (int i = 0; i < 2; ++i) {
    for (int j = 0; j < 4; ++j) {
      t[8 * i + j] = _mm512_maskz_shuffle_f32x4(kAll, r[8 * i + j], r[8 * i + j + 4], 0x88);
      t[8 * i + j + 4] = _mm512_maskz_shuffle_f32x4(kAll, r[8 * i + j], r[8 * i + j + 4], 0xdd);
    }
  }
  for (int j = 0; j < 8; ++j) {
    _mm512_store_ps(dst + j * ld, _mm512_maskz_shuffle_f32x4(kAll, t[j], t[j + 8], 0x88));
    _mm512_store_ps(dst + (j + 8) * ld, _mm512_maskz_shuffle_f32x4(kAll, t[j], t[j + 8], 0xdd));
  }
}
#endif

// Z's gathered entries for one example, F <= kMaxFastFeatures, E <= kMaxFastDim; row_of(j) is
// feature j's row of E floats.
template <typename RowOf>
void ForwardSmall(RowOf row_of, int64_t f, int64_t dim, bool self_interaction, bool skip_gather,
                  float* ob) {
  const int64_t ld = (f + kLanes - 1) / kLanes * kLanes;
  alignas(64) float tt[kMaxFastDim * kMaxFastFeatures];
#if defined(__AVX512F__)
  if (dim == kLanes) {
    for (int64_t j0 = 0; j0 < ld; j0 += kLanes) Transpose16Rows(row_of, j0, f, tt + j0, ld);
  } else
#endif
  {
    for (int64_t j = 0; j < f; ++j) {
      const float* tj = row_of(j);
      for (int64_t e = 0; e < dim; ++e) tt[e * ld + j] = tj[e];
    }
    for (int64_t e = 0; e < dim; ++e) {
      for (int64_t j = f; j < ld; ++j) tt[e * ld + j] = 0.0f;
    }
  }
  // Rows in groups of kRowGroup; a group's vectors cover its longest (last) row. A group past
  // the last feature repeats that feature's row with nothing stored.
  for (int64_t i0 = 0; i0 < f; i0 += kRowGroup) {
    const float* ti[kRowGroup];
    int64_t n[kRowGroup];
    float* dst[kRowGroup];
    for (int r = 0; r < kRowGroup; ++r) {
      const int64_t i = std::min(i0 + r, f - 1);
      n[r] = i0 + r < f ? (self_interaction ? i + 1 : i) : 0;  // columns j < n are gathered
      dst[r] = ob + OutputIndex(i, 0, f, self_interaction, skip_gather);
      ti[r] = row_of(i);
      if (skip_gather && i0 + r < f) std::fill(dst[r] + n[r], dst[r] + f, 0.0f);
    }
    const int64_t widest = n[std::min<int64_t>(f - 1 - i0, kRowGroup - 1)];  // the last row's
    switch ((widest + kLanes - 1) / kLanes) {
      case 0:
        break;
      case 1:
        RowsTimesTransposed<1, kRowGroup>(ti, tt, dim, ld, n, dst);
        break;
      case 2:
        RowsTimesTransposed<2, kRowGroup>(ti, tt, dim, ld, n, dst);
        break;
      case 3:
        RowsTimesTransposed<3, kRowGroup>(ti, tt, dim, ld, n, dst);
        break;
      default:
        RowsTimesTransposed<4, kRowGroup>(ti, tt, dim, ld, n, dst);
        break;
    }
  }
}

// One example's output row ob from its F feature rows row_of(0..F-1): the small-matrix path
// when the shape fits it, else row by row. The same arithmetic whatever holds the rows.
template <typename RowOf>
void ForwardExample(RowOf row_of, int64_t f, int64_t dim, bool self_interaction, bool skip_gather,
                    float* ob) {
  if (f <= kMaxFastFeatures && dim <= kMaxFastDim) {
    ForwardSmall(row_of, f, dim, self_interaction, skip_gather, ob);
    return;
  }
  if (skip_gather) {
    const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
    std::memset(ob, 0, static_cast<size_t>(width) * sizeof(float));
  }
  for (int64_t i = 0; i < f; ++i) {
    const int64_t n = self_interaction ? i + 1 : i;
    DotWithRows(row_of(i), row_of, n, dim,
                ob + OutputIndex(i, 0, f, self_interaction, skip_gather));
  }
}

// G = dZ + dZ^T over the gathered entries, as a dense (F, F) matrix.
void SymmetricGradient(const float* gb, int64_t f, bool self_interaction, bool skip_gather,
                       float* g) {
  for (int64_t i = 0; i < f; ++i) {
    const float* row = gb + OutputIndex(i, 0, f, self_interaction, skip_gather);
    float* gi = g + i * f;
    for (int64_t j = 0; j < i; ++j) {
      gi[j] = row[j];
      g[j * f + i] = row[j];
    }
    gi[i] = self_interaction ? 2.0f * row[i] : 0.0f;
  }
}

// d_t = G T for one example with E = 16 * kBlocks: each row's accumulator is kBlocks 16-float
// blocks of vector registers.
template <int kBlocks>
void GradientTimesFeatures(const float* g, const float* tb, int64_t f, float* db) {
  constexpr int64_t kDim = 16 * kBlocks;
  constexpr int kVecs = kBlocks * kVecsPerLane;
  for (int64_t i = 0; i < f; ++i) {
    Vec acc[kVecs] = {};
    const float* gi = g + i * f;
    for (int64_t j = 0; j < f; ++j) {
      const float w = gi[j];
      for (int k = 0; k < kVecs; ++k) {
        Vec row;
        std::memcpy(&row, tb + j * kDim + kVecFloats * k, sizeof(row));
        acc[k] += w * row;
      }
    }
    std::memcpy(db + i * kDim, acc, sizeof(acc));
  }
}

// The same for any E.
void GradientTimesFeatures(const float* g, const float* tb, int64_t f, int64_t dim, float* db) {
  for (int64_t i = 0; i < f; ++i) {
    float* di = db + i * dim;
    std::memset(di, 0, static_cast<size_t>(dim) * sizeof(float));
    const float* gi = g + i * f;
    for (int64_t j = 0; j < f; ++j) {
      const float w = gi[j];
      const float* tj = tb + j * dim;
#pragma omp simd
      for (int64_t e = 0; e < dim; ++e) di[e] += w * tj[e];
    }
  }
}

}  // namespace

int64_t DotInteractionOutputWidth(int64_t num_features, bool self_interaction, bool skip_gather) {
  if (skip_gather) return num_features * num_features;
  return self_interaction ? num_features * (num_features + 1) / 2
                          : num_features * (num_features - 1) / 2;
}

void DotInteractionForward(const float* t, int64_t batch, int64_t num_features, int64_t dim,
                           bool self_interaction, bool skip_gather, float* out, int64_t ld_out) {
  CRANK_CHECK(batch >= 0 && num_features >= 0 && dim >= 0);
  const int64_t f = num_features;
  const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
  CRANK_CHECK(ld_out >= width, "ld_out {} < output width {}", ld_out, width);
  const int64_t stride = f * dim;
  const bool parallel = batch * f * f * dim / 2 >= kMinParallelWork;
  ParallelFor(batch, parallel, [&](int64_t b) {
    const float* tb = t + b * stride;
    ForwardExample([tb, dim](int64_t j) { return tb + j * dim; }, f, dim, self_interaction,
                   skip_gather, out + b * ld_out);
  });
}

void DotInteractionForwardFeatures(const float* const* features, int64_t batch,
                                   int64_t num_features, int64_t dim, bool self_interaction,
                                   bool skip_gather, float* out, int64_t ld_out) {
  CRANK_CHECK(batch >= 0 && num_features >= 0 && dim >= 0);
  const int64_t f = num_features;
  const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
  CRANK_CHECK(ld_out >= width, "ld_out {} < output width {}", ld_out, width);
  const int64_t blocks = (batch + kFeaturesBlock - 1) / kFeaturesBlock;
  const bool parallel = batch * f * f * dim / 2 >= kMinParallelWork;
  ParallelForDynamic(blocks, parallel, [&](int64_t block) {
    const int64_t end = std::min(batch, (block + 1) * kFeaturesBlock);
    for (int64_t b = block * kFeaturesBlock; b < end; ++b) {
      const int64_t offset = b * dim;
      // The F rows of a later example, one stream per feature: more streams than the hardware
      // prefetcher follows, and the rows come from memory (the embedding outputs of the whole
      // batch do not stay in the L2 cache).
      if (b + kFeaturesPrefetch < batch) {
        const int64_t ahead = (b + kFeaturesPrefetch) * dim;
        for (int64_t j = 0; j < f; ++j) PrefetchBytes(features[j] + ahead, dim);
      }
      ForwardExample([features, offset](int64_t j) { return features[j] + offset; }, f, dim,
                     self_interaction, skip_gather, out + b * ld_out);
    }
  });
}

void DotInteractionBackward(const float* d_out, int64_t ld_d_out, const float* t, int64_t batch,
                            int64_t num_features, int64_t dim, bool self_interaction,
                            bool skip_gather, float* d_t) {
  CRANK_CHECK(batch >= 0 && num_features >= 0 && dim >= 0);
  const int64_t f = num_features;
  const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
  CRANK_CHECK(ld_d_out >= width, "ld_d_out {} < output width {}", ld_d_out, width);
  const int64_t stride = f * dim;
  const bool small = f <= kMaxFastFeatures;
  const bool parallel = batch * f * f * dim >= kMinParallelWork;
  ParallelFor(batch, parallel, [&](int64_t b) {
    const float* tb = t + b * stride;
    const float* gb = d_out + b * ld_d_out;
    float* db = d_t + b * stride;
    if (small) {
      // dT = G T with G = dZ + dZ^T restricted to the gathered entries.
      alignas(64) float g[kMaxFastFeatures * kMaxFastFeatures];
      SymmetricGradient(gb, f, self_interaction, skip_gather, g);
      switch (dim) {
        case 16:
          GradientTimesFeatures<1>(g, tb, f, db);
          break;
        case 32:
          GradientTimesFeatures<2>(g, tb, f, db);
          break;
        case 64:
          GradientTimesFeatures<4>(g, tb, f, db);
          break;
        default:
          GradientTimesFeatures(g, tb, f, dim, db);
          break;
      }
      return;
    }
    // Larger F: G's entries are read from d_out as needed.
    auto g = [&](int64_t i, int64_t j) -> float {
      if (j < i) return gb[OutputIndex(i, j, f, self_interaction, skip_gather)];
      if (j > i) return gb[OutputIndex(j, i, f, self_interaction, skip_gather)];
      return self_interaction ? 2.0f * gb[OutputIndex(i, i, f, self_interaction, skip_gather)]
                              : 0.0f;
    };
    for (int64_t i = 0; i < f; ++i) {
      float* di = db + i * dim;
      std::memset(di, 0, static_cast<size_t>(dim) * sizeof(float));
      for (int64_t j = 0; j < f; ++j) {
        const float gj = g(i, j);
        const float* r = tb + j * dim;
#pragma omp simd
        for (int64_t e = 0; e < dim; ++e) di[e] += gj * r[e];
      }
    }
  });
}

}  // namespace crank
