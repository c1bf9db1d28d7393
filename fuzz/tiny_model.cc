#include "tiny_model.h"

#include "crank/base/error.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "fuzz_util.h"

namespace crank::fuzz {
namespace {

constexpr char kRows[] =
    "x1,x2,a,b,y\n"
    "1.5,2,p,u,1\n"
    "0,-1,q,v,0\n"
    ",3.25,r,,1\n";

constexpr char kDataYaml[] =
    "format: delimited\n"
    "task: bce\n"
    "on_error: fail\n"
    "delimited:\n"
    "  label: y\n"
    "  dense: [x1, {name: x2, transform: standardize}]\n"
    "  categorical:\n"
    "    - {name: a, vocabulary: {}}\n"
    "    - {name: b, hash_buckets: 4}\n";

constexpr char kJobYaml[] =
    "# the tiny model of fuzz/tiny_model.cc\n"
    "model: {bottom: [8, 4], top: [8, 1], embedding_dim: 4, interaction: dot}\n"
    "optimizer: {kind: adagrad, learning_rate: 0.1}\n";

}  // namespace

RankingConfig TinyModelConfig() {
  RankingConfig c;
  c.dense_features = 2;
  c.tables = {{"a", 5, 4}, {"b", 5, 4}};
  c.features = {{"a", "a"}, {"b", "b"}};
  c.bottom = {8, 4};
  c.top = {8, 1};
  c.seed = 5;
  return c;
}

std::unique_ptr<Optimizer> TinyOptimizer() { return MakeAdagrad({.learning_rate = 0.1f}); }

std::string TinyMapping() {
  const DataConfig config = DataConfig::FromYamlString(kDataYaml, "tiny_model.yaml");
  const std::string rows = WriteScratchFile("tiny_rows.csv", kRows);
  return DataMapping::Build(config, {rows}).Serialize();
}

void WriteTinyModelCheckpoint(const std::string& path) {
  auto mapping = std::make_shared<const DataMapping>(DataMapping::Deserialize(TinyMapping()));
  BufferParser parser(mapping);
  Batch batch;
  FUZZ_CHECK(parser.Parse(kRows, &batch) == 3, "the tiny rows parse");
  Ranking model(TinyModelConfig());
  model.SetOptimizer(TinyOptimizer());
  model.TrainStep(batch);
  TrainingState state;
  state.global_step = 1;
  state.examples = 3;
  state.seed = 5;
  state.history_json = "[{\"epoch\": 0, \"auc\": 0.5}]";
  SaveModelCheckpoint(path, model, model.optimizer(), kJobYaml, mapping->Serialize(), state);
}

}  // namespace crank::fuzz
