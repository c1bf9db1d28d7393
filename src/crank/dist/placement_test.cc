#include "crank/dist/placement.h"

#include <gtest/gtest.h>

#include <algorithm>

#include "crank/base/error.h"

namespace crank {
namespace {

TableLoad T(const std::string& name, int64_t rows, int64_t bytes_per_row = 16,
            double lookups = 100) {
  return TableLoad{name, rows, bytes_per_row, lookups};
}

// Every table is covered exactly once, in row order, by shards on distinct ranks.
void ExpectCovers(const Placement& p, const std::vector<TableLoad>& tables) {
  ASSERT_EQ(p.shards.size(), tables.size());
  for (size_t t = 0; t < tables.size(); ++t) {
    int64_t next = 0;
    std::vector<int> ranks;
    for (const TableShard& s : p.shards[t]) {
      EXPECT_EQ(s.row_begin, next) << tables[t].name;
      EXPECT_GT(s.row_end, s.row_begin) << tables[t].name;
      EXPECT_GE(s.rank, 0);
      EXPECT_LT(s.rank, p.world_size);
      ranks.push_back(s.rank);
      next = s.row_end;
    }
    EXPECT_EQ(next, tables[t].rows) << tables[t].name;
    std::sort(ranks.begin(), ranks.end());
    EXPECT_TRUE(std::adjacent_find(ranks.begin(), ranks.end()) == ranks.end()) << tables[t].name;
  }
}

TEST(Placement, OneRankHoldsEverything) {
  const std::vector<TableLoad> tables = {T("a", 10), T("b", 20)};
  const Placement p = PlanPlacement(tables, {1, 0, {}});
  ExpectCovers(p, tables);
  EXPECT_EQ(p.bytes_per_rank[0], 30 * 16);
}

TEST(Placement, GreedyBySizeBalancesBytesNotTableCount) {
  // One big table and four small ones on two ranks: the big one alone on one rank, the four
  // small ones on the other (by count DLRM would put three tables on each).
  const std::vector<TableLoad> tables = {T("big", 1000, 16, 400), T("s1", 250, 16, 100),
                                         T("s2", 250, 16, 100), T("s3", 250, 16, 100),
                                         T("s4", 250, 16, 100)};
  const Placement p = PlanPlacement(tables, {2, 0, {}});
  ExpectCovers(p, tables);
  const int big = p.shards[0][0].rank;
  for (size_t t = 1; t < tables.size(); ++t) EXPECT_NE(p.shards[t][0].rank, big) << t;
  EXPECT_EQ(p.bytes_per_rank[0], p.bytes_per_rank[1]);
}

TEST(Placement, LookupsBreakTiesBetweenEqualBytes) {
  // Four tables of equal size: the two busiest go to different ranks.
  const std::vector<TableLoad> tables = {T("a", 100, 16, 1000), T("b", 100, 16, 1000),
                                         T("c", 100, 16, 10), T("d", 100, 16, 10)};
  const Placement p = PlanPlacement(tables, {2, 0, {}});
  ExpectCovers(p, tables);
  EXPECT_NE(p.shards[0][0].rank, p.shards[1][0].rank);
  EXPECT_DOUBLE_EQ(p.lookups_per_rank[0], p.lookups_per_rank[1]);
}

TEST(Placement, TableOverTheBudgetIsSplitRowWise) {
  // 1000 rows x 16 bytes = 16000 bytes, budget 6000: three shards of at most 375 rows.
  const std::vector<TableLoad> tables = {T("huge", 1000), T("small", 10)};
  const Placement p = PlanPlacement(tables, {4, 6000, {}});
  ExpectCovers(p, tables);
  ASSERT_EQ(p.shards[0].size(), 3u);
  for (const TableShard& s : p.shards[0]) EXPECT_LE(s.rows() * 16, 6000);
  for (int64_t b : p.bytes_per_rank) EXPECT_LE(b, 6000);
}

TEST(Placement, ForcedRowWiseSplitsOverEveryRank) {
  const std::vector<TableLoad> tables = {T("a", 10), T("b", 7)};
  const Placement p = PlanPlacement(tables, {3, 0, {"b"}});
  ExpectCovers(p, tables);
  ASSERT_EQ(p.shards[1].size(), 3u);
  EXPECT_EQ(p.shards[0].size(), 1u);
}

TEST(Placement, MoreRanksThanTablesLeavesSomeRanksEmpty) {
  const std::vector<TableLoad> tables = {T("a", 10), T("b", 20)};
  const Placement p = PlanPlacement(tables, {5, 0, {}});
  ExpectCovers(p, tables);
  int empty = 0;
  for (int64_t b : p.bytes_per_rank) empty += b == 0 ? 1 : 0;
  EXPECT_EQ(empty, 3);
  EXPECT_NE(p.Describe(tables).find("(no tables)"), std::string::npos);
}

TEST(Placement, DeterministicForTheSameInput) {
  const std::vector<TableLoad> tables = {T("a", 30), T("b", 30), T("c", 10, 16, 5), T("d", 70)};
  const Placement p = PlanPlacement(tables, {3, 0, {}}), q = PlanPlacement(tables, {3, 0, {}});
  for (size_t t = 0; t < tables.size(); ++t) EXPECT_EQ(p.shards[t][0].rank, q.shards[t][0].rank);
}

TEST(Placement, RefusesWhatCannotFit) {
  // Needs 3 shards of the budget, only 2 ranks.
  EXPECT_THROW(PlanPlacement({T("huge", 1000)}, {2, 6000, {}}), ConfigError);
  // One row larger than the budget.
  EXPECT_THROW(PlanPlacement({T("wide", 10, 100)}, {4, 50, {}}), ConfigError);
  // Two tables of 3200 bytes each, 2 ranks of 4000: fit; a third does not.
  EXPECT_NO_THROW(PlanPlacement({T("a", 200), T("b", 200)}, {2, 4000, {}}));
  EXPECT_THROW(PlanPlacement({T("a", 200), T("b", 200), T("c", 200)}, {2, 4000, {}}), ConfigError);
  EXPECT_THROW(PlanPlacement({T("a", 10)}, {2, 0, {"nope"}}), ConfigError);
  EXPECT_THROW(PlanPlacement({T("a", 10)}, {0, 0, {}}), ConfigError);
}

}  // namespace
}  // namespace crank
