#include "crank/dist/sharded_checkpoint.h"

#include <gtest/gtest.h>

#include <memory>
#include <vector>

#include "crank/dist/dist_test_util.h"
#include "crank/dist/process_group.h"
#include "crank/io/io_test_util.h"
#include "synthetic_batches.h"

namespace crank {
namespace {

using dist_test::MakeOptimizerFor;
using dist_test::Values;

// A hybrid-parallel model on one rank, its tables stored in `precision`.
struct OneRankModel {
  OneRankModel(RankingConfig config, EmbeddingPrecision precision) {
    for (TableConfig& t : config.tables) t.precision = precision;
    std::vector<TableLoad> loads;
    for (const TableConfig& t : config.tables) loads.push_back({t.name, t.vocabulary_size, 32, 1});
    auto emb = std::make_unique<DistributedEmbedding>(config.tables, config.features,
                                                      PlanPlacement(loads, {1, 0, {}}), &group);
    embedding = emb.get();
    model = std::make_unique<Ranking>(config, std::move(emb));
    model->SetOptimizer(MakeOptimizerFor(*model));
    hybrid = std::make_unique<HybridParallel>(model.get(), embedding);
  }
  LocalProcessGroup group;
  DistributedEmbedding* embedding = nullptr;
  std::unique_ptr<Ranking> model;
  std::unique_ptr<HybridParallel> hybrid;
};

// A bf16 model's sharded checkpoint: its shards hold bf16 records (the manifest says so), and
// it restores bit for bit into a bf16 model (which then trains on as the saved one does),
// widened exactly into an fp32 one and rounded to nearest into an fp16 one.
TEST(ShardedCheckpointRestore, SixteenBitShardsRestoreInTheirPrecisionOrConverted) {
  testing::SyntheticProblem p;
  p.max_bag = 3;
  io_test::ScratchDir dir;
  OneRankModel trained(p.Config(), EmbeddingPrecision::kBf16);
  for (uint64_t step = 0; step < 3; ++step) trained.hybrid->TrainStep(p.MakeBatch(16, step));
  TrainingState state;
  state.global_step = 3;
  const std::string path = dir.File("m.ckpt");
  SaveShardedCheckpoint(path, *trained.hybrid, "model: {}\n", "", state);
  {
    ShardedCheckpoint c = ShardedCheckpoint::Open(path);
    ASSERT_EQ(c.manifest().tables.size(), 3u);
    EXPECT_EQ(c.manifest().tables[0].precision, EmbeddingPrecision::kBf16);
    const Checkpoint shard = Checkpoint::Load(ShardFilePath(path, 1, 0, 1));
    EmbeddingPrecision stored = EmbeddingPrecision::kFp32;
    EXPECT_NE(shard.FindTensor16("var/embedding/f0", &stored), nullptr);
    EXPECT_EQ(stored, EmbeddingPrecision::kBf16);
  }
  const auto saved = trained.model->TrainableVariables();
  // bf16 last: it trains the saved model on.
  for (const EmbeddingPrecision precision :
       {EmbeddingPrecision::kFp32, EmbeddingPrecision::kFp16, EmbeddingPrecision::kBf16}) {
    SCOPED_TRACE(std::string(EmbeddingPrecisionName(precision)));
    OneRankModel restored(p.Config(), precision);
    ShardedCheckpoint c = ShardedCheckpoint::Open(path);
    RestoreShardedCheckpoint(c, *restored.hybrid);
    EXPECT_EQ(restored.model->optimizer()->iterations(), 3);
    const auto got = restored.model->TrainableVariables();
    ASSERT_EQ(got.size(), saved.size());
    for (size_t i = 0; i < got.size(); ++i) {
      std::vector<float> want = Values(*saved[i]);
      if (got[i]->precision == EmbeddingPrecision::kFp16) {  // bf16 -> fp16 to nearest
        std::vector<uint16_t> half(want.size());
        NarrowRowNearest(EmbeddingPrecision::kFp16, want.data(), static_cast<int64_t>(want.size()),
                         half.data());
        WidenRow(EmbeddingPrecision::kFp16, half.data(), static_cast<int64_t>(half.size()),
                 want.data());
      }
      EXPECT_EQ(got[i]->precision, saved[i]->sparse ? precision : EmbeddingPrecision::kFp32);
      EXPECT_EQ(Values(*got[i]), want) << got[i]->name;
    }
    if (precision != EmbeddingPrecision::kBf16) continue;
    // The same rounding seeds and rows: the next step is the saved model's, bit for bit.
    const Batch b = p.MakeBatch(16, 9);
    EXPECT_EQ(restored.hybrid->TrainStep(b).loss, trained.hybrid->TrainStep(b).loss);
    for (size_t i = 0; i < got.size(); ++i) {
      EXPECT_EQ(Values(*got[i]), Values(*saved[i])) << got[i]->name;
    }
  }
}

}  // namespace
}  // namespace crank
