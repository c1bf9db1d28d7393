#include "crank/dist/placement.h"

#include <fmt/format.h>

#include <algorithm>
#include <numeric>

#include "crank/base/error.h"

namespace crank {

int Placement::ShardOf(size_t table, int rank) const {
  for (size_t s = 0; s < shards[table].size(); ++s) {
    if (shards[table][s].rank == rank) return static_cast<int>(s);
  }
  return -1;
}

std::string Placement::Describe(const std::vector<TableLoad>& tables) const {
  std::string out;
  for (int r = 0; r < world_size; ++r) {
    std::vector<std::string> held;
    for (size_t t = 0; t < shards.size(); ++t) {
      const int s = ShardOf(t, r);
      if (s < 0) continue;
      const TableShard& sh = shards[t][s];
      held.push_back(shards[t].size() == 1
                         ? tables[t].name
                         : fmt::format("{}[{}:{})", tables[t].name, sh.row_begin, sh.row_end));
    }
    out += fmt::format(
        "rank {}: {:.1f} KiB, {:.0f} lookups/step: {}\n", r, bytes_per_rank[r] / 1024.0,
        lookups_per_rank[r],
        held.empty() ? std::string("(no tables)") : fmt::format("{}", fmt::join(held, ", ")));
  }
  return out;
}

Placement PlanPlacement(const std::vector<TableLoad>& tables, const PlacementOptions& options) {
  const int n = options.world_size;
  if (n < 1) throw ConfigError(fmt::format("placement: world size must be >= 1, got {}", n));
  if (options.max_bytes_per_rank < 0) {
    throw ConfigError(fmt::format("placement: the per-rank budget must be >= 0 bytes, got {}",
                                  options.max_bytes_per_rank));
  }
  for (const std::string& name : options.row_wise) {
    if (std::none_of(tables.begin(), tables.end(),
                     [&](const TableLoad& t) { return t.name == name; })) {
      throw ConfigError(
          fmt::format("placement: row-wise table '{}' is not a table of the model", name));
    }
  }
  Placement p;
  p.world_size = n;
  p.shards.resize(tables.size());
  p.bytes_per_rank.assign(n, 0);
  p.lookups_per_rank.assign(n, 0.0);

  // Shards of every table: row ranges, not yet placed.
  struct Pending {
    size_t table;
    size_t shard;
    int64_t bytes;
    double lookups;
  };
  std::vector<Pending> pending;
  double total_bytes = 0.0, total_lookups = 0.0;
  const int64_t budget = options.max_bytes_per_rank;
  for (size_t t = 0; t < tables.size(); ++t) {
    const TableLoad& tl = tables[t];
    if (tl.rows <= 0 || tl.bytes_per_row <= 0) {
      throw ConfigError(
          fmt::format("placement: table '{}' needs rows > 0 and bytes per row > 0, "
                      "got {} and {}",
                      tl.name, tl.rows, tl.bytes_per_row));
    }
    const int64_t bytes = tl.rows * tl.bytes_per_row;
    int64_t parts = 1;
    if (std::find(options.row_wise.begin(), options.row_wise.end(), tl.name) !=
        options.row_wise.end()) {
      parts = std::min<int64_t>(n, tl.rows);
    } else if (budget > 0 && bytes > budget) {
      if (tl.bytes_per_row > budget) {
        throw ConfigError(fmt::format(
            "placement: one row of table '{}' ({} bytes) exceeds the per-rank budget of {} bytes",
            tl.name, tl.bytes_per_row, budget));
      }
      const int64_t rows_per_part = budget / tl.bytes_per_row;
      parts = (tl.rows + rows_per_part - 1) / rows_per_part;
      if (parts > n) {
        throw ConfigError(fmt::format(
            "placement: table '{}' ({} bytes) needs {} shards of at most {} bytes, but there are "
            "only {} ranks; raise the per-rank budget or run more ranks",
            tl.name, bytes, parts, budget, n));
      }
    }
    for (int64_t s = 0; s < parts; ++s) {
      TableShard sh;
      sh.rank = -1;  // placed below
      sh.row_begin = tl.rows * s / parts;
      sh.row_end = tl.rows * (s + 1) / parts;
      p.shards[t].push_back(sh);
      const double frac = static_cast<double>(sh.rows()) / static_cast<double>(tl.rows);
      pending.push_back(
          {t, static_cast<size_t>(s), sh.rows() * tl.bytes_per_row, tl.lookups_per_step * frac});
    }
    total_bytes += static_cast<double>(bytes);
    total_lookups += tl.lookups_per_step;
  }
  std::stable_sort(pending.begin(), pending.end(), [](const Pending& a, const Pending& b) {
    if (a.bytes != b.bytes) return a.bytes > b.bytes;
    if (a.lookups != b.lookups) return a.lookups > b.lookups;
    return a.table < b.table;
  });
  const auto load = [&](int r) {
    return (total_bytes > 0 ? p.bytes_per_rank[r] / total_bytes : 0.0) +
           (total_lookups > 0 ? p.lookups_per_rank[r] / total_lookups : 0.0);
  };
  for (const Pending& s : pending) {
    int best = -1;
    for (int r = 0; r < n; ++r) {
      if (p.ShardOf(s.table, r) >= 0) continue;  // the shards of one table on distinct ranks
      if (budget > 0 && p.bytes_per_rank[r] + s.bytes > budget) continue;
      if (best < 0 || load(r) < load(best)) best = r;
    }
    if (best < 0) {
      throw ConfigError(fmt::format(
          "placement: no rank has room for table '{}' ({} bytes{}) within the per-rank budget of "
          "{} bytes; raise the budget or run more ranks",
          tables[s.table].name, s.bytes,
          p.shards[s.table].size() > 1 ? fmt::format(", shard {}", s.shard) : std::string(),
          budget));
    }
    p.shards[s.table][s.shard].rank = best;
    p.bytes_per_rank[best] += s.bytes;
    p.lookups_per_rank[best] += s.lookups;
  }
  return p;
}

}  // namespace crank
