#include "crank/kernels/embedding_bag.h"

#include <algorithm>
#include <cmath>

#include "crank/base/error.h"
#include "crank/kernels/bf16.h"
#include "crank/kernels/embedding_precision.h"
#include "crank/kernels/parallel_for.h"

namespace crank {
namespace {

// Below this many output floats a loop runs on one thread (same results, less overhead).
constexpr int64_t kMinParallelWork = 1 << 14;
// How many positions ahead the forward pass prefetches table rows, and the backward gradient
// rows. The forward's rows are random reads from tables far larger than the caches; 24 ahead
// took about a third less time per lookup than 8 (bench/gather_prefetch, docs/performance.md).
constexpr int64_t kForwardPrefetchDistance = 24;
constexpr int64_t kPrefetchDistance = 8;
// Largest radix digit of GroupIds (2^11 counters on the stack).
constexpr int kMaxRadixBits = 11;

// The pooling normaliser s_b of the bag [begin, end) (see the header): 1, 1 / sum w or
// 1 / sqrt(sum w^2), and 0 when that normaliser is zero (an empty bag or all-zero weights).
float BagScale(Pooling pooling, const float* weights, int64_t begin, int64_t end) {
  if (pooling == Pooling::kSum) return 1.0f;
  double norm = 0.0;
  if (weights == nullptr) {
    norm = static_cast<double>(end - begin);
    if (pooling == Pooling::kSqrtn) norm = std::sqrt(norm);
  } else if (pooling == Pooling::kMean) {
    for (int64_t k = begin; k < end; ++k) norm += weights[k];
  } else {
    for (int64_t k = begin; k < end; ++k) norm += static_cast<double>(weights[k]) * weights[k];
    norm = std::sqrt(norm);
  }
  return norm > 0.0 ? static_cast<float>(1.0 / norm) : 0.0f;
}

// How a table stores its elements: fp32, or 16 bits widened exactly to float.
struct Fp32Elements {
  using T = float;
  static float Get(const float* row, int64_t e) { return row[e]; }
};
struct Bf16Elements {
  using T = uint16_t;
  static float Get(const uint16_t* row, int64_t e) { return Bf16ToFloat(row[e]); }
};
struct Fp16Elements {
  using T = uint16_t;
  static float Get(const uint16_t* row, int64_t e) { return Fp16ToFloat(row[e]); }
};

template <typename T>
inline void PrefetchRow(const T* row, int64_t dim) {
  const char* p = reinterpret_cast<const char*>(row);
  const int64_t bytes = std::min<int64_t>(dim * static_cast<int64_t>(sizeof(T)), 256);
  for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off);
}

// One example of EmbeddingBagForward. kDim > 0 fixes E at compile time (fully unrolled inner
// loops for the common sizes); kDim == 0 reads it from dim.
template <int kDim, typename Elements>
void PoolBag(const typename Elements::T* __restrict table, int64_t dim, const int64_t* ids,
             int64_t nnz, const float* weights, int64_t begin, int64_t end, Pooling pooling,
             float* __restrict out) {
  const int64_t e_dim = kDim > 0 ? kDim : dim;
  for (int64_t e = 0; e < e_dim; ++e) out[e] = 0.0f;
  for (int64_t k = begin; k < end; ++k) {
    if (k + kForwardPrefetchDistance < nnz) {
      PrefetchRow(table + ids[k + kForwardPrefetchDistance] * e_dim, e_dim);
    }
    const typename Elements::T* __restrict row = table + ids[k] * e_dim;
    if (weights == nullptr) {
#pragma omp simd
      for (int64_t e = 0; e < e_dim; ++e) out[e] += Elements::Get(row, e);
    } else {
      const float w = weights[k];
#pragma omp simd
      for (int64_t e = 0; e < e_dim; ++e) out[e] += w * Elements::Get(row, e);
    }
  }
  if (pooling != Pooling::kSum) {
    const float s = BagScale(pooling, weights, begin, end);
#pragma omp simd
    for (int64_t e = 0; e < e_dim; ++e) out[e] *= s;
  }
}

// The examples [first, last) of EmbeddingBagForward, split over the threads when parallel.
template <typename T>
struct ForwardArgs {
  const T* table;
  int64_t dim;
  const int64_t* ids;
  const int64_t* offsets;
  const float* weights;
  int64_t first, last;
  bool parallel;
  Pooling pooling;
  float* out;
};

// The prefetches stop at the last lookup of the range.
template <int kDim, typename Elements = Fp32Elements>
void ForwardImpl(const ForwardArgs<typename Elements::T>& a) {
  const int64_t limit = a.offsets[a.last];
  ParallelFor(a.last - a.first, a.parallel, [&](int64_t i) {
    const int64_t b = a.first + i;
    PoolBag<kDim, Elements>(a.table, a.dim, a.ids, limit, a.weights, a.offsets[b], a.offsets[b + 1],
                            a.pooling, a.out + b * a.dim);
  });
}

void ForwardFp32(const ForwardArgs<float>& a) {
  switch (a.dim) {
    case 4:
      return ForwardImpl<4>(a);
    case 8:
      return ForwardImpl<8>(a);
    case 16:
      return ForwardImpl<16>(a);
    case 32:
      return ForwardImpl<32>(a);
    case 64:
      return ForwardImpl<64>(a);
    case 128:
      return ForwardImpl<128>(a);
    default:
      return ForwardImpl<0>(a);
  }
}

template <typename Elements>
void Forward16(const ForwardArgs<uint16_t>& a) {
  return a.dim == 16 ? ForwardImpl<16, Elements>(a) : ForwardImpl<0, Elements>(a);
}

void Forward16(EmbeddingPrecision precision, const ForwardArgs<uint16_t>& a) {
  CRANK_CHECK(precision != EmbeddingPrecision::kFp32, "EmbeddingBagForward16 of an fp32 table");
  return precision == EmbeddingPrecision::kBf16 ? Forward16<Bf16Elements>(a)
                                                : Forward16<Fp16Elements>(a);
}

// One unique row of EmbeddingBagBackward.
template <int kDim>
void SumRun(int64_t dim, int64_t begin, int64_t end, int64_t n, const int64_t* order,
            const float* coef, const float* const* d_rows, float* __restrict grad) {
  const int64_t e_dim = kDim > 0 ? kDim : dim;
  for (int64_t e = 0; e < e_dim; ++e) grad[e] = 0.0f;
  for (int64_t j = begin; j < end; ++j) {
    if (j + kPrefetchDistance < n) PrefetchRow(d_rows[order[j + kPrefetchDistance]], e_dim);
    const int64_t k = order[j];
    const float c = coef[k];
    const float* __restrict d = d_rows[k];
#pragma omp simd
    for (int64_t e = 0; e < e_dim; ++e) grad[e] += c * d[e];
  }
}

template <int kDim>
void BackwardImpl(int64_t num_unique, int64_t dim, const int64_t* segments, const int64_t* order,
                  const float* coef, const float* const* d_rows, float* grad_rows) {
  ParallelFor(num_unique, EmbeddingBagWorthSplitting(num_unique, segments[num_unique], dim),
              [&](int64_t u) {
                SumRun<kDim>(dim, segments[u], segments[u + 1], segments[num_unique], order, coef,
                             d_rows, grad_rows + u * dim);
              });
}

}  // namespace

Pooling ParsePooling(std::string_view name) {
  if (name == "sum") return Pooling::kSum;
  if (name == "mean") return Pooling::kMean;
  if (name == "sqrtn") return Pooling::kSqrtn;
  throw InvalidArgument(
      fmt::format("pooling must be one of sum, mean, sqrtn; got '{}'", std::string(name)));
}

std::string_view PoolingName(Pooling pooling) {
  switch (pooling) {
    case Pooling::kSum:
      return "sum";
    case Pooling::kMean:
      return "mean";
    case Pooling::kSqrtn:
      return "sqrtn";
  }
  CRANK_CHECK(false, "unknown Pooling value {}", static_cast<int>(pooling));
  return "";
}

bool EmbeddingBagWorthSplitting(int64_t batch, int64_t nnz, int64_t dim) {
  return batch > 1 && (batch + nnz) * dim >= kMinParallelWork;
}

void EmbeddingBagForward(const float* table, int64_t dim, const int64_t* ids,
                         const int64_t* offsets, const float* weights, int64_t batch,
                         Pooling pooling, float* out) {
  CRANK_CHECK(dim > 0 && batch >= 0, "dim {} batch {}", dim, batch);
  ForwardFp32({table, dim, ids, offsets, weights, 0, batch,
               EmbeddingBagWorthSplitting(batch, offsets[batch], dim), pooling, out});
}

void EmbeddingBagForward16(EmbeddingPrecision precision, const uint16_t* table, int64_t dim,
                           const int64_t* ids, const int64_t* offsets, const float* weights,
                           int64_t batch, Pooling pooling, float* out) {
  CRANK_CHECK(dim > 0 && batch >= 0, "dim {} batch {}", dim, batch);
  Forward16(precision, {table, dim, ids, offsets, weights, 0, batch,
                        EmbeddingBagWorthSplitting(batch, offsets[batch], dim), pooling, out});
}

void EmbeddingBagForwardRange(const float* table, int64_t dim, const int64_t* ids,
                              const int64_t* offsets, const float* weights, int64_t batch,
                              int64_t first, int64_t last, Pooling pooling, float* out) {
  CRANK_CHECK(dim > 0 && 0 <= first && first <= last && last <= batch,
              "dim {} batch {} range [{}, {})", dim, batch, first, last);
  ForwardFp32({table, dim, ids, offsets, weights, first, last, /*parallel=*/false, pooling, out});
}

void EmbeddingBagForward16Range(EmbeddingPrecision precision, const uint16_t* table, int64_t dim,
                                const int64_t* ids, const int64_t* offsets, const float* weights,
                                int64_t batch, int64_t first, int64_t last, Pooling pooling,
                                float* out) {
  CRANK_CHECK(dim > 0 && 0 <= first && first <= last && last <= batch,
              "dim {} batch {} range [{}, {})", dim, batch, first, last);
  Forward16(precision,
            {table, dim, ids, offsets, weights, first, last, /*parallel=*/false, pooling, out});
}

void EmbeddingBagCoefficients(const int64_t* offsets, const float* weights, int64_t batch,
                              Pooling pooling, float* coef) {
  const bool parallel = batch > 1 && offsets[batch] >= kMinParallelWork;
  ParallelFor(batch, parallel, [&](int64_t b) {
    const int64_t begin = offsets[b];
    const int64_t end = offsets[b + 1];
    const float s = BagScale(pooling, weights, begin, end);
    if (weights == nullptr) {
      for (int64_t k = begin; k < end; ++k) coef[k] = s;
    } else {
      for (int64_t k = begin; k < end; ++k) coef[k] = weights[k] * s;
    }
  });
}

int64_t GroupIds(const int64_t* ids, int64_t n, int64_t id_bound, int64_t* order, int64_t* scratch,
                 int64_t* unique, int64_t* segments) {
  CRANK_CHECK(n >= 0 && id_bound >= 0, "n {} id_bound {}", n, id_bound);
  segments[0] = 0;
  if (n == 0) return 0;

  // Balanced digits: bit width of the largest id split into the fewest passes of <= 11 bits.
  int bits = 0;
  const uint64_t max_id = id_bound > 1 ? static_cast<uint64_t>(id_bound - 1) : 0;
  while (bits < 64 && (max_id >> bits) != 0) ++bits;
  const int passes = std::max(1, (bits + kMaxRadixBits - 1) / kMaxRadixBits);
  const int digit_bits = std::max(1, (bits + passes - 1) / passes);
  const int64_t buckets = int64_t{1} << digit_bits;
  const uint64_t mask = static_cast<uint64_t>(buckets - 1);

  // Ping-pong buffers, arranged so that the last pass writes keys[0] and order.
  int64_t* keys[2] = {scratch, scratch + n};
  int64_t* vals[2] = {order, scratch + 2 * n};
  int64_t count[int64_t{1} << kMaxRadixBits];
  for (int p = 0; p < passes; ++p) {
    const int dst = (passes - 1 - p) & 1;
    const int64_t* in_keys = p == 0 ? ids : keys[dst ^ 1];
    const int64_t* in_vals = p == 0 ? nullptr : vals[dst ^ 1];
    const int shift = p * digit_bits;
    std::fill(count, count + buckets, int64_t{0});
    for (int64_t i = 0; i < n; ++i) ++count[(static_cast<uint64_t>(in_keys[i]) >> shift) & mask];
    int64_t sum = 0;
    for (int64_t d = 0; d < buckets; ++d) {
      const int64_t c = count[d];
      count[d] = sum;
      sum += c;
    }
    int64_t* out_keys = keys[dst];
    int64_t* out_vals = vals[dst];
    for (int64_t i = 0; i < n; ++i) {
      const int64_t key = in_keys[i];
      const int64_t pos = count[(static_cast<uint64_t>(key) >> shift) & mask]++;
      out_keys[pos] = key;
      out_vals[pos] = in_vals == nullptr ? i : in_vals[i];
    }
  }

  const int64_t* sorted = keys[0];
  int64_t num_unique = 0;
  for (int64_t i = 0; i < n; ++i) {
    if (i == 0 || sorted[i] != sorted[i - 1]) {
      unique[num_unique] = sorted[i];
      segments[num_unique] = i;
      ++num_unique;
    }
  }
  segments[num_unique] = n;
  return num_unique;
}

void EmbeddingBagBackward(int64_t num_unique, int64_t dim, const int64_t* segments,
                          const int64_t* order, const float* coef, const float* const* d_rows,
                          float* grad_rows) {
  CRANK_CHECK(dim > 0 && num_unique >= 0, "dim {} num_unique {}", dim, num_unique);
  switch (dim) {
    case 4:
      return BackwardImpl<4>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    case 8:
      return BackwardImpl<8>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    case 16:
      return BackwardImpl<16>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    case 32:
      return BackwardImpl<32>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    case 64:
      return BackwardImpl<64>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    case 128:
      return BackwardImpl<128>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
    default:
      return BackwardImpl<0>(num_unique, dim, segments, order, coef, d_rows, grad_rows);
  }
}

}  // namespace crank
