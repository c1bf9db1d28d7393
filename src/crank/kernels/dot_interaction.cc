#include "crank/kernels/dot_interaction.h"

#include <cstring>

#include "crank/base/error.h"

namespace crank {
namespace {

// Examples below this much work (multiply-adds) run on the calling thread only.
constexpr int64_t kMinParallelWork = 1 << 15;

// Position of Z[i][j] (j <= i, j < i without self interaction) in an example's output row.
inline int64_t OutputIndex(int64_t i, int64_t j, int64_t num_features, bool self_interaction,
                           bool skip_gather) {
  if (skip_gather) return i * num_features + j;
  return self_interaction ? i * (i + 1) / 2 + j : i * (i - 1) / 2 + j;
}

// dst[j] = <ti, rows[j]> for j in [0, n); rows: (n, E) contiguous. Four rows at a time so each
// load of ti feeds four products.
inline void DotWithRows(const float* ti, const float* rows, int64_t n, int64_t dim, float* dst) {
  int64_t j = 0;
  for (; j + 4 <= n; j += 4) {
    const float* r0 = rows + j * dim;
    const float* r1 = r0 + dim;
    const float* r2 = r1 + dim;
    const float* r3 = r2 + dim;
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
    const float* r = rows + j * dim;
    float s = 0.0f;
#pragma omp simd reduction(+ : s)
    for (int64_t e = 0; e < dim; ++e) s += ti[e] * r[e];
    dst[j] = s;
  }
}

}  // namespace

int64_t DotInteractionOutputWidth(int64_t num_features, bool self_interaction, bool skip_gather) {
  if (skip_gather) return num_features * num_features;
  return self_interaction ? num_features * (num_features + 1) / 2
                          : num_features * (num_features - 1) / 2;
}

void DotInteractionForward(const float* t, int64_t batch, int64_t num_features, int64_t dim,
                           bool self_interaction, bool skip_gather, float* out) {
  CRANK_CHECK(batch >= 0 && num_features >= 0 && dim >= 0);
  const int64_t f = num_features;
  const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
  const int64_t stride = f * dim;
  const bool parallel = batch * f * f * dim / 2 >= kMinParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t b = 0; b < batch; ++b) {
    const float* tb = t + b * stride;
    float* ob = out + b * width;
    if (skip_gather) std::memset(ob, 0, static_cast<size_t>(width) * sizeof(float));
    for (int64_t i = 0; i < f; ++i) {
      const int64_t n = self_interaction ? i + 1 : i;  // columns j < n are gathered
      DotWithRows(tb + i * dim, tb, n, dim,
                  ob + OutputIndex(i, 0, f, self_interaction, skip_gather));
    }
  }
}

void DotInteractionBackward(const float* d_out, const float* t, int64_t batch, int64_t num_features,
                            int64_t dim, bool self_interaction, bool skip_gather, float* d_t) {
  CRANK_CHECK(batch >= 0 && num_features >= 0 && dim >= 0);
  const int64_t f = num_features;
  const int64_t width = DotInteractionOutputWidth(f, self_interaction, skip_gather);
  const int64_t stride = f * dim;
  const bool parallel = batch * f * f * dim >= kMinParallelWork;
#pragma omp parallel for schedule(static) if (parallel)
  for (int64_t b = 0; b < batch; ++b) {
    const float* tb = t + b * stride;
    const float* gb = d_out + b * width;
    float* db = d_t + b * stride;
    // dT_i = sum_j G[i][j] T_j with G = dZ + dZ^T restricted to the gathered entries.
    auto g = [&](int64_t i, int64_t j) -> float {
      if (j < i) return gb[OutputIndex(i, j, f, self_interaction, skip_gather)];
      if (j > i) return gb[OutputIndex(j, i, f, self_interaction, skip_gather)];
      return self_interaction ? 2.0f * gb[OutputIndex(i, i, f, self_interaction, skip_gather)]
                              : 0.0f;
    };
    for (int64_t i = 0; i < f; ++i) {
      float* di = db + i * dim;
      std::memset(di, 0, static_cast<size_t>(dim) * sizeof(float));
      int64_t j = 0;
      for (; j + 4 <= f; j += 4) {
        const float g0 = g(i, j), g1 = g(i, j + 1), g2 = g(i, j + 2), g3 = g(i, j + 3);
        const float* r0 = tb + j * dim;
        const float* r1 = r0 + dim;
        const float* r2 = r1 + dim;
        const float* r3 = r2 + dim;
#pragma omp simd
        for (int64_t e = 0; e < dim; ++e) {
          di[e] += g0 * r0[e] + g1 * r1[e] + g2 * r2[e] + g3 * r3[e];
        }
      }
      for (; j < f; ++j) {
        const float gj = g(i, j);
        const float* r = tb + j * dim;
#pragma omp simd
        for (int64_t e = 0; e < dim; ++e) di[e] += gj * r[e];
      }
    }
  }
}

}  // namespace crank
