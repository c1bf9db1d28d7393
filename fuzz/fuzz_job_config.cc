// Fuzz target: the job configuration (JobConfig::FromYamlString: yaml-cpp parsing, the sections
// data, model, optimizer and train, key and type checks, Validate) on arbitrary text.
//
// Expected outcomes: a ConfigError (any crank::Error), or a configuration that validates, whose
// resolved YAML (ToYaml) parses back to a configuration with the same resolved YAML, and for
// which MakeRankingConfig either gives a model configuration or refuses the data with a
// crank::Error. A yaml-cpp exception escaping FromYamlString is a bug: every problem must be
// reported as a ConfigError naming the file, line and key.

#include <cstddef>
#include <cstdint>
#include <string>

#include "crank/base/error.h"
#include "crank/data/data_spec.h"
#include "crank/train/job_config.h"
#include "fuzz_util.h"

namespace {

// The DataSpec a mapping of `config` would have before any counting pass: the schema's fields,
// hashed features with their bucket counts, vocabularies with only the missing and OOV ids.
crank::DataSpec SpecOf(const crank::DataConfig& config) {
  const crank::Schema schema = crank::ResolveSchema(config);
  crank::DataSpec spec;
  spec.label = config.task;
  spec.weighted =
      config.format == crank::DataFormat::kDelimited && !config.delimited.weight.empty();
  for (const crank::DenseField& f : schema.dense) spec.dense.push_back(f.name);
  for (const crank::SparseField& f : schema.sparse) {
    const bool hashed = f.encoding.kind == crank::Encoding::Kind::kHash;
    spec.sparse.push_back({f.name, hashed ? f.encoding.hash_buckets + 1 : 2, f.multi_hot});
  }
  return spec;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  crank::JobConfig config;
  try {
    config = crank::JobConfig::FromYamlString(text, "/fuzz/job.yaml");
  } catch (const crank::Error&) {
    return 0;  // refused with a crank exception: expected
  }
  try {
    config.Validate();
  } catch (const crank::Error& e) {
    FUZZ_CHECK(false, std::string("an accepted configuration does not validate: ") + e.what());
  }
  crank::fuzz::CheckResolvedYamlRoundTrips(config);
  // The model configuration for the data the configuration describes: a model or a crank::Error
  // (some checks need the data, e.g. a schema without dense fields).
  try {
    const crank::RankingConfig model = config.MakeRankingConfig(SpecOf(config.data));
    (void)model;
  } catch (const crank::Error&) {
  }
  return 0;
}
