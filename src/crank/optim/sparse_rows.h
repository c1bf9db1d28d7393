#ifndef CRANK_OPTIM_SPARSE_ROWS_H_
#define CRANK_OPTIM_SPARSE_ROWS_H_

// The row loop of the row-sparse optimizer updates, with software prefetch of the rows that are
// about to be updated. Internal to crank/optim.
//
// A row-sparse update reads and writes rows of tables far larger than the cache (26 x 4M x 16
// floats is 6.7 GB) at the gradient's unique ids, ascending but with gaps the hardware
// prefetcher does not follow: each row costs a cache miss on the value and one per slot. Asking
// for the rows kSparsePrefetchDistance ids ahead overlaps those misses with the arithmetic of
// the current row. Prefetching only reads ahead; results are those of a plain loop.
//
// Tables stored in 16 bits are updated through UpdateTableRow: widened, updated in fp32 with the
// same arithmetic as an fp32 row, narrowed back with stochastic rounding.

#include <algorithm>
#include <cstdint>
#include <initializer_list>
#include <vector>

#include "crank/layers/variable.h"
#include "crank/optim/slot_optimizer.h"

namespace crank {

// How many unique ids ahead the update loop prefetches (docs/performance.md, "Big tables").
inline constexpr int64_t kSparsePrefetchDistance = 8;

// A table the update touches at each id: row id starts at base + id * stride elements of
// element_bytes each and is `width` elements wide (a value or a kLikeValue slot: stride = width =
// E; a kPerRow slot: 1, 1; a 16-bit table: element_bytes 2).
struct PrefetchedTable {
  const void* base;
  int64_t stride;
  int64_t width;
  int64_t element_bytes = 4;
};

// The value of a (V, E) table, in whichever storage holds it.
inline PrefetchedTable ValueRows(const Variable& var) {
  const int64_t width = var.shape()[1];
  if (var.is16()) return {var.value16.data(), width, width, 2};
  return {var.value.data(), width, width, 4};
}

// Asks for the cache lines of row `id` of each table (at most 4 lines per row).
inline void PrefetchTableRows(std::initializer_list<PrefetchedTable> tables, int64_t id) {
  for (const PrefetchedTable& t : tables) {
    const char* p = static_cast<const char*>(t.base) + id * t.stride * t.element_bytes;
    const int64_t bytes = std::min<int64_t>(t.width * t.element_bytes, 256);
    for (int64_t off = 0; off < bytes; off += 64) __builtin_prefetch(p + off, /*rw=*/1);
    // A row not aligned to a line ends on one more line.
    __builtin_prefetch(p + bytes - 1, /*rw=*/1);
  }
}

// Calls fn(i) for each row i of grad (ids (n), rows (n, E)) as ForEachRow does (in parallel
// when large; fn(i) must touch only the rows of grad.ids[i]), prefetching the rows of `tables`
// at grad.ids[i + kSparsePrefetchDistance] first.
template <typename Fn>
void ForEachSparseRow(const RowSparseGrad& grad, int64_t width,
                      std::initializer_list<PrefetchedTable> tables, Fn&& fn) {
  const int64_t n = static_cast<int64_t>(grad.ids.size());
  const int64_t* ids = grad.ids.data();
  ForEachRow(n, width, [&](int64_t i) {
    if (i + kSparsePrefetchDistance < n)
      PrefetchTableRows(tables, ids[i + kSparsePrefetchDistance]);
    fn(i);
  });
}

// Calls fn(w) with w the E floats of row `id` of the sparse variable var (V, E), to update in
// place. An fp32 table passes its row itself. A 16-bit table passes its row widened into a
// per-thread buffer and then narrows the result back with stochastic rounding keyed by
// (var.rounding_seed, step, var.row_offset + id, element): the stored row depends only on its
// own values and coordinates in the whole table, so it is the same for any thread count, in a
// resumed run and whichever way the table is split over processes.
template <typename Fn>
void UpdateTableRow(Variable& var, int64_t id, int64_t step, Fn&& fn) {
  if (!var.is16()) {
    fn(var.value.row(id));
    return;
  }
  const int64_t width = var.value16.cols();
  thread_local std::vector<float> row;  // grows to the widest row once per thread
  if (static_cast<int64_t>(row.size()) < width) row.resize(static_cast<size_t>(width));
  uint16_t* stored = var.value16.row(id);
  WidenRow(var.precision, stored, width, row.data());
  fn(row.data());
  NarrowRowStochastic(var.precision, row.data(), width, var.rounding_seed, step,
                      var.row_offset + id, stored);
}

}  // namespace crank

#endif  // CRANK_OPTIM_SPARSE_ROWS_H_
