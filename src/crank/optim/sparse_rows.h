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

#include <algorithm>
#include <cstdint>
#include <initializer_list>

#include "crank/layers/variable.h"
#include "crank/optim/slot_optimizer.h"

namespace crank {

// How many unique ids ahead the update loop prefetches (docs/performance.md, "Big tables").
inline constexpr int64_t kSparsePrefetchDistance = 8;

// A table the update touches at each id: row id starts at base + id * stride floats and is
// `width` floats wide (a value or a kLikeValue slot: stride = width = E; a kPerRow slot: 1, 1).
struct PrefetchedTable {
  const float* base;
  int64_t stride;
  int64_t width;
};

// Asks for the cache lines of row `id` of each table (at most 4 lines per row).
inline void PrefetchTableRows(std::initializer_list<PrefetchedTable> tables, int64_t id) {
  for (const PrefetchedTable& t : tables) {
    const char* p = reinterpret_cast<const char*>(t.base + id * t.stride);
    const int64_t bytes = std::min<int64_t>(t.width * static_cast<int64_t>(sizeof(float)), 256);
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

}  // namespace crank

#endif  // CRANK_OPTIM_SPARSE_ROWS_H_
