// The checkpoint seeds of the fuzz corpus are what they claim to be: the valid model loads
// into the tiny model, the broken variants are refused for the intended reason. Fails when
// the checkpoint format or the tiny model changes without the seeds being rewritten
// (crank_fuzz_make_seeds, see fuzz/make_seeds.cc).

#include <gtest/gtest.h>

#include <memory>
#include <string>

#include "crank/base/error.h"
#include "crank/data/mapping.h"
#include "crank/io/checkpoint.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "tiny_model.h"

namespace crank::fuzz {
namespace {

std::string Seed(const std::string& name) {
  return std::string(CRANK_SOURCE_DIR) + "/fuzz/corpus/fuzz_checkpoint/" + name;
}

TEST(FuzzSeeds, ValidModelCheckpointRestoresIntoTheTinyModel) {
  const ModelCheckpoint c = ModelCheckpoint::Load(Seed("valid_model.ckpt"));
  Ranking model(TinyModelConfig());
  c.RestoreVariables(model);
  std::unique_ptr<Optimizer> optimizer = TinyOptimizer();
  c.RestoreOptimizer(model, *optimizer);
  EXPECT_EQ(optimizer->iterations(), 1);
  EXPECT_EQ(c.state().global_step, 1);
  const DataMapping mapping = DataMapping::Deserialize(c.mapping());
  ASSERT_EQ(mapping.spec().num_sparse(), 2);
  EXPECT_EQ(mapping.spec().sparse[0].vocabulary_size, 5);
  EXPECT_EQ(mapping.spec().sparse[1].vocabulary_size, 5);
  EXPECT_EQ(mapping.spec().num_dense(), 2);
}

TEST(FuzzSeeds, GenericContainersLoadButAreNotModels) {
  EXPECT_TRUE(Checkpoint::Load(Seed("empty_container.ckpt")).Names().empty());
  const Checkpoint g = Checkpoint::Load(Seed("generic_records.ckpt"));
  EXPECT_EQ(g.Names().size(), 5u);
  EXPECT_THROW(ModelCheckpoint::Load(Seed("generic_records.ckpt")), IoError);
}

void ExpectRefused(const std::string& name, const std::string& reason) {
  try {
    Checkpoint::Load(Seed(name));
    FAIL() << name << " loaded";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(reason), std::string::npos) << e.what();
  }
}

TEST(FuzzSeeds, BrokenVariantsAreRefusedForTheirReason) {
  ExpectRefused("truncated_model.ckpt", "truncated");
  ExpectRefused("bitflip_model.ckpt", "corrupted");
  ExpectRefused("newer_version.ckpt", "upgrade crank");
  ExpectRefused("not_a_checkpoint.ckpt", "bad magic");
}

}  // namespace
}  // namespace crank::fuzz
