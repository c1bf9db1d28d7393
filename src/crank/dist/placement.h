#ifndef CRANK_DIST_PLACEMENT_H_
#define CRANK_DIST_PLACEMENT_H_

// Where each embedding table lives when training on several ranks.
//
// Table-wise by default: a table lives whole on one rank. The planner is greedy by size: shards
// are taken largest first (bytes, then lookups, then table order) and each goes to the rank with
// the least load so far, load = bytes / total bytes + lookups / total lookups, so both the
// memory and the per-step lookup work are balanced (not the table count, as DLRM's reference).
// A table larger than the per-rank budget (max_bytes_per_rank) is split row-wise into the fewest
// equal row ranges that fit, each on a different rank; row_wise names tables to split over every
// rank regardless of size. More ranks than tables is fine: some ranks then hold no table.
//
// ConfigError when a shard cannot fit any rank's remaining budget, a table needs more shards
// than there are ranks, or row_wise names an unknown table. Deterministic: the same inputs give
// the same plan on every rank.

#include <cstdint>
#include <string>
#include <vector>

namespace crank {

struct TableLoad {
  std::string name;
  int64_t rows = 0;               // V
  int64_t bytes_per_row = 0;      // weights and optimizer state of one row
  double lookups_per_step = 0.0;  // ids read per step (e.g. features reading it x batch size)
};

struct PlacementOptions {
  int world_size = 1;
  int64_t max_bytes_per_rank = 0;     // 0: no budget
  std::vector<std::string> row_wise;  // tables split row-wise over all ranks
};

// Rows [row_begin, row_end) of one table, held by `rank`.
struct TableShard {
  int rank = 0;
  int64_t row_begin = 0;
  int64_t row_end = 0;
  int64_t rows() const { return row_end - row_begin; }
};

struct Placement {
  int world_size = 1;
  // Per table (input order), its shards in row order; they cover [0, V) exactly.
  std::vector<std::vector<TableShard>> shards;
  std::vector<int64_t> bytes_per_rank;
  std::vector<double> lookups_per_rank;

  // The shard of `table` that `rank` holds, or -1.
  int ShardOf(size_t table, int rank) const;
  // One line per rank: its tables (and row ranges) and load.
  std::string Describe(const std::vector<TableLoad>& tables) const;
};

Placement PlanPlacement(const std::vector<TableLoad>& tables, const PlacementOptions& options);

}  // namespace crank

#endif  // CRANK_DIST_PLACEMENT_H_
