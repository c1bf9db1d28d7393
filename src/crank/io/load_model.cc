#include "crank/io/load_model.h"

#include "crank/base/error.h"
#include "crank/yaml/reader.h"

namespace crank {

RankingConfig RankingConfigFor(const ModelConfig& model, const DataSpec& spec, uint64_t seed) {
  std::vector<SparseInput> sparse;
  for (const SparseFeatureSpec& f : spec.sparse) sparse.push_back({f.name, f.vocabulary_size});
  const LossKind loss =
      spec.label == LabelKind::kReal ? LossKind::kMeanSquaredError : LossKind::kBinaryCrossEntropy;
  return MakeRankingConfig(model, spec.num_dense(), sparse, loss, seed);
}

LoadedModel LoadModel(const std::string& path) {
  ModelCheckpoint ckpt = ModelCheckpoint::Load(path);
  LoadedModel m;
  m.config_yaml = ckpt.config_yaml();
  const std::string name = path + " (stored configuration)";
  const YamlReader root =
      YamlReader::Root(LoadYaml(m.config_yaml, name), "config", name, YamlDialect::kKeyFirst,
                       /*keys_under_path=*/false);
  root.ExpectMapOrNull();
  if (root.Has("data") && !root.Child("data").IsNull()) {
    m.data = DataConfig::FromYaml(root.Child("data").node(), name);
  }
  m.model_config = ModelConfig::FromYaml(root.Child("model"));
  try {
    const Schema schema = ResolveSchema(m.data);
    m.model_config.Validate(!schema.dense.empty(), !schema.sparse.empty());
  } catch (const ConfigError& e) {
    throw root.positions().Locate(e, name);
  }
  m.mapping = std::make_shared<const DataMapping>(DataMapping::Deserialize(ckpt.mapping()));
  // Without dense features the stored model.bottom was dropped, with a warning, when the model
  // was trained; loading it drops it again silently.
  if (m.mapping->spec().num_dense() == 0) m.model_config.bottom.clear();
  RankingConfig config = RankingConfigFor(m.model_config, m.mapping->spec(), 0);
  config.draw_initial_tables = false;  // RestoreVariables overwrites every row
  m.model = std::make_unique<Ranking>(config);
  ckpt.RestoreVariables(*m.model);
  m.model->PrepareInference();
  m.state = ckpt.state();
  return m;
}

}  // namespace crank
