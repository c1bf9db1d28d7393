#ifndef CRANK_KERNELS_EMBEDDING_BAG_H_
#define CRANK_KERNELS_EMBEDDING_BAG_H_

// Pooled embedding lookups ("embedding bags") over CSR input and their row-sparse gradient.
//
// One feature's input for a batch of B examples is CSR, as DLRM/TorchRec EmbeddingBag:
// example b owns the positions k in [offsets[b], offsets[b+1]) of ids (nnz) and of the optional
// per-id weights w (nnz; all 1 when absent). With e_k = table[ids[k]] (a row of the (V, E)
// table), the pooled output of example b is, as TF's embedding_lookup_sparse combiners:
//   sum:   sum_k w_k e_k
//   mean:  sum_k w_k e_k / sum_k w_k
//   sqrtn: sum_k w_k e_k / sqrt(sum_k w_k^2)
// An empty bag, or one whose normaliser is zero, pools to the zero vector.
// So out_b = sum_k c_k e_k with the per-position coefficient c_k = w_k * s_b, where s_b is 1,
// 1 / sum w or 1 / sqrt(sum w^2) (0 when that normaliser is 0); the gradient of table row r is
// sum over the positions k with ids[k] == r of c_k * d_out[b(k)].
//
// The backward pass is split into three steps so that a layer can merge the lookups of several
// features sharing one table (and a gradient already accumulated) into one row-sparse gradient:
//   1. EmbeddingBagCoefficients: c_k for each position of a feature.
//   2. GroupIds: sorts all positions that read the table by id (stable), giving the unique ids
//      in ascending order and, for each, the run of positions that read it.
//   3. EmbeddingBagBackward: each unique row's gradient as the sum over its run, in run order.
//
// Determinism: every output element (a pooled row, a gradient row) is computed by one thread in
// a fixed order, so results are bit-identical for any thread count. OpenMP loops use a static
// schedule. Kernels never allocate: callers pass every buffer. Ids are not range-checked here
// (the layer validates its input); an id outside [0, V) is undefined behaviour.

#include <cstdint>
#include <string_view>

#include "crank/kernels/embedding_precision.h"

namespace crank {

enum class Pooling { kSum, kMean, kSqrtn };

// "sum" | "mean" | "sqrtn"; anything else throws InvalidArgument naming the accepted values.
Pooling ParsePooling(std::string_view name);
// The inverse of ParsePooling.
std::string_view PoolingName(Pooling pooling);

// Whether EmbeddingBagForward / EmbeddingBagBackward split a bag of B examples with nnz lookups
// of E-wide rows over the threads (below this much work one thread does it all). Callers with
// many such small bags can run whole bags in parallel instead.
bool EmbeddingBagWorthSplitting(int64_t batch, int64_t nnz, int64_t dim);

// table: (V, E); ids: (nnz) in [0, V); offsets: (B + 1), offsets[0] == 0, non-decreasing,
// offsets[B] == nnz; weights: (nnz) or nullptr (all 1) -> out: (B, E), overwritten.
// Parallel over examples. out must not alias table.
void EmbeddingBagForward(const float* table, int64_t dim, const int64_t* ids,
                         const int64_t* offsets, const float* weights, int64_t batch,
                         Pooling pooling, float* out);

// EmbeddingBagForward over a table stored in 16 bits (kBf16 or kFp16; embedding_precision.h):
// each element is widened exactly to float and pooled in fp32, so the result equals
// EmbeddingBagForward over the widened table bit for bit.
void EmbeddingBagForward16(EmbeddingPrecision precision, const uint16_t* table, int64_t dim,
                           const int64_t* ids, const int64_t* offsets, const float* weights,
                           int64_t batch, Pooling pooling, float* out);

// EmbeddingBagForward / EmbeddingBagForward16 of the examples [first, last) only, on the calling
// thread: rows first..last-1 of out (B, E) get the bits the whole-batch call gives them, the
// other rows are not touched. 0 <= first <= last <= B. For a caller that splits the examples of
// several bags over the threads in one parallel region of its own.
void EmbeddingBagForwardRange(const float* table, int64_t dim, const int64_t* ids,
                              const int64_t* offsets, const float* weights, int64_t batch,
                              int64_t first, int64_t last, Pooling pooling, float* out);
void EmbeddingBagForward16Range(EmbeddingPrecision precision, const uint16_t* table, int64_t dim,
                                const int64_t* ids, const int64_t* offsets, const float* weights,
                                int64_t batch, int64_t first, int64_t last, Pooling pooling,
                                float* out);

// offsets, weights as for EmbeddingBagForward -> coef: (nnz), overwritten with c_k = w_k * s_b
// (see the file comment). The normalisers are accumulated in double.
void EmbeddingBagCoefficients(const int64_t* offsets, const float* weights, int64_t batch,
                              Pooling pooling, float* coef);

// The upper bound on the buffer sizes GroupIds needs, for n positions: scratch holds 3 * n.
inline int64_t GroupIdsScratchSize(int64_t n) { return 3 * n; }

// Groups n positions by id. ids: (n) in [0, id_bound). Writes
//   order:    (n) the positions 0..n-1 sorted by ids[k], ties in ascending k (a stable sort);
//   unique:   (U) the distinct ids, ascending;
//   segments: (U + 1) order[segments[u] .. segments[u+1]) are the positions reading unique[u];
// and returns U. scratch: (GroupIdsScratchSize(n)) workspace. An LSD radix sort with 11-bit
// digits: O(n) per pass and ceil(log2(id_bound) / 11) passes. Single-threaded.
int64_t GroupIds(const int64_t* ids, int64_t n, int64_t id_bound, int64_t* order, int64_t* scratch,
                 int64_t* unique, int64_t* segments);

// The merged backward of EmbeddingBagForward for one table, after GroupIds:
//   grad_rows[u] = sum_{j = segments[u]}^{segments[u+1]-1} coef[order[j]] * d_rows[order[j]]
// for u in [0, U), the sum taken in j order. d_rows: (n) pointers, d_rows[k] is the E-vector
// of output gradient that position k's lookup contributed to (d_out row of its example, or an
// already accumulated gradient row with coefficient 1); coef: (n) -> grad_rows: (U, E),
// overwritten. Parallel over unique rows. grad_rows must not alias any d_rows[k].
void EmbeddingBagBackward(int64_t num_unique, int64_t dim, const int64_t* segments,
                          const int64_t* order, const float* coef, const float* const* d_rows,
                          float* grad_rows);

}  // namespace crank

#endif  // CRANK_KERNELS_EMBEDDING_BAG_H_
