#include "crank/io/load_model.h"

#include <gtest/gtest.h>
#include <yaml-cpp/yaml.h>

#include <string>

#include "crank/base/error.h"
#include "io_test_util.h"

namespace crank {
namespace {

using io_test::ScratchDir;

constexpr char kConfig[] =
    "data: {criteo: {hash_buckets: 10}}\n"
    "model: {embedding_dim: 4, bottom: [8, 4], top: [8, 1]}\n"
    "train: {precision: bf16}\n";

// Saves a freshly initialised model of `config_yaml` (seed 7) to `path`; returns it.
std::unique_ptr<Ranking> SaveModel(const std::string& path, const std::string& config_yaml) {
  const YAML::Node root = YAML::Load(config_yaml);
  const DataConfig data = DataConfig::FromYaml(root["data"], "");
  const DataMapping mapping = DataMapping::Build(data, {});
  ModelConfig model;
  model.embedding_dim = 4;
  model.bottom = {8, 4};
  model.top = {8, 1};
  auto ranking = std::make_unique<Ranking>(RankingConfigFor(model, mapping.spec(), 7));
  TrainingState state;
  state.global_step = 3;
  SaveModelCheckpoint(path, *ranking, nullptr, config_yaml, mapping.Serialize(), state);
  return ranking;
}

TEST(LoadModel, RebuildsTheModelFromTheStoredDataAndModelSections) {
  ScratchDir dir;
  const std::string path = dir.File("m.crank");
  std::unique_ptr<Ranking> saved = SaveModel(path, kConfig);
  const LoadedModel m = LoadModel(path);
  EXPECT_EQ(m.config_yaml, kConfig);  // the rest (train.precision) is the caller's to read
  EXPECT_EQ(m.data.criteo.encoding.hash_buckets, 10);
  EXPECT_EQ(m.model_config.embedding_dim, 4);
  EXPECT_EQ(m.model_config.bottom, (std::vector<int64_t>{8, 4}));
  EXPECT_EQ(m.state.global_step, 3);
  const std::vector<Variable*> a = saved->TrainableVariables();
  const std::vector<Variable*> b = m.model->TrainableVariables();
  ASSERT_EQ(a.size(), b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    ASSERT_EQ(a[i]->value.size(), b[i]->value.size()) << a[i]->name;
    for (int64_t k = 0; k < a[i]->value.size(); ++k) {
      ASSERT_EQ(a[i]->value[k], b[i]->value[k]) << a[i]->name << "[" << k << "]";
    }
  }
}

TEST(LoadModel, AStoredModelSectionThatDoesNotValidateIsAConfigErrorAtItsLine) {
  ScratchDir dir;
  const std::string path = dir.File("m.crank");
  SaveModel(path,
            "data: {criteo: {hash_buckets: 10}}\nmodel:\n  embedding_dim: 4\n  bottom: [8, 4]\n"
            "  top: [8, 2]\n");
  try {
    LoadModel(path);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_EQ(e.file(), path + " (stored configuration)");
    EXPECT_EQ(e.line(), 5);
    EXPECT_EQ(e.key(), "model.top");
  }
}

TEST(LoadModel, AFileThatIsNotAModelIsAnIoError) {
  ScratchDir dir;
  io_test::WriteBytes(dir.File("x"), "not a model");
  EXPECT_THROW(LoadModel(dir.File("x")), IoError);
}

}  // namespace
}  // namespace crank
