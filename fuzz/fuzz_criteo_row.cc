// Fuzz target: Criteo TSV text -> rows -> mapped batch (CriteoParser, RowSource, LineReader,
// DataMapping, BufferParser).
//
// Input: byte 0 selects the configuration, the other bytes are the text.
//   bit 0     on_error: fail (else skip)
//   bits 1-2  labels: 0 auto, 1 present, 2 absent, 3 auto
//   bit 3     task: mse (else bce)
//   bit 4     token_hash: mix64 (else value)
//   bit 5     vocabularies on C1, C2, C3 (else every field hashed); C20 is always hashed into
//             16 buckets
//   bit 6     vocabularies are counted on the input itself (written to a file, which also
//             drives the file-mode LineReader) with max_distinct 8 (the counter's cap); else
//             on 300 clean synthetic rows. Either way the mapping must survive
//             Serialize/Deserialize unchanged
//   bit 7     max_line_bytes 64 (over-long lines) and a hold-out split (every 3, offset 1,
//             training rows); vocabularies are then counted on the input
// Expected outcomes: a batch that satisfies CheckBatch, or a crank::Error (DataError with
// on_error: fail, labelled/unlabelled mix, ...).

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <string_view>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "crank/data/synthetic_criteo.h"
#include "fuzz_util.h"

namespace crank::fuzz {
namespace {

std::string ConfigYaml(uint8_t sel) {
  const char* labels[] = {"auto", "present", "absent", "auto"};
  const bool vocab = sel & 0x20;
  const bool self_counted = sel & 0xc0;  // vocabularies counted on the input
  const bool small = sel & 0x80;
  std::string y;
  y += "format: criteo\n";
  y += std::string("task: ") + ((sel & 0x08) ? "mse" : "bce") + "\n";
  y += std::string("on_error: ") + ((sel & 0x01) ? "fail" : "skip") + "\n";
  if (small) y += "max_line_bytes: 64\nholdout: {every: 3, offset: 1}\n";
  y += "criteo:\n";
  y += std::string("  labels: ") + labels[(sel >> 1) & 3] + "\n";
  y += std::string("  token_hash: ") + ((sel & 0x10) ? "mix64" : "value") + "\n";
  y += "  hash_buckets: 1000\n";
  y += "  fields:\n";
  y += "    C20: {hash_buckets: 16}\n";
  if (vocab) {
    const std::string cap = self_counted ? ", max_distinct: 8" : "";
    y += "    C1: {vocabulary: {min_count: 1" + cap + "}}\n";
    y += "    C2: {vocabulary: {min_count: 2" + cap + "}}\n";
    y += "    C3: {vocabulary: {min_count: 1, max_size: 5" + cap + "}}\n";
  }
  return y;
}

// Clean synthetic rows (labelled or not) for the vocabularies that are not counted on the
// input.
const std::string& SyntheticTrainFile(bool labelled) {
  static std::string paths[2];
  std::string& path = paths[labelled ? 1 : 0];
  if (path.empty()) {
    SyntheticOptions o;
    o.rows = 300;
    o.seed = 3;
    o.max_cardinality = 40;
    o.labelled = labelled;
    std::ostringstream text;
    GenerateSyntheticCriteo(o, text);
    path = WriteScratchFile(labelled ? "synthetic.tsv" : "synthetic_unlabelled.tsv", text.str());
  }
  return path;
}

std::shared_ptr<const DataMapping> MakeMapping(uint8_t sel, std::string_view text) {
  static std::map<uint8_t, DataConfig> configs;
  if (!configs.count(sel)) {
    configs[sel] = DataConfig::FromYamlString(ConfigYaml(sel), "fuzz_criteo_row.yaml");
  }
  const DataConfig& config = configs[sel];
  const bool from_input = (sel & 0x20) && (sel & 0xc0);
  if (!from_input) {
    // Hashed, or vocabularies counted on the synthetic rows: the same for every input.
    static std::map<uint8_t, std::shared_ptr<const DataMapping>> cache;
    auto& m = cache[sel];
    if (m == nullptr) {
      std::vector<std::string> train;
      if (sel & 0x20) train = {SyntheticTrainFile(config.criteo.labels != CriteoLabels::kAbsent)};
      m = std::make_shared<const DataMapping>(DataMapping::Build(config, train));
      const std::string serialized = m->Serialize();
      FUZZ_CHECK(DataMapping::Deserialize(serialized).Serialize() == serialized,
                 "Deserialize(Serialize()) must restore the mapping exactly");
    }
    return m;
  }
  // Counted on the input: bit 6, or bit 7 (the synthetic lines exceed max_line_bytes 64).
  const std::string train = WriteScratchFile("train.tsv", text);
  auto m = std::make_shared<const DataMapping>(DataMapping::Build(config, {train}));
  const std::string serialized = m->Serialize();
  FUZZ_CHECK(DataMapping::Deserialize(serialized).Serialize() == serialized,
             "Deserialize(Serialize()) must restore the mapping exactly");
  return m;
}

void Run(const uint8_t* data, size_t size) {
  const uint8_t sel = data[0];
  const std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::shared_ptr<const DataMapping> mapping = MakeMapping(sel, text);
  BufferParser parser(mapping);
  Batch batch;
  const RowSplit split = (sel & 0x80) ? RowSplit::kTrain : RowSplit::kAll;
  const int64_t rows = parser.Parse(text, &batch, "fuzz.tsv", split);
  CheckBatch(batch, mapping->spec(), rows);
  FUZZ_CHECK(parser.stats().rows == rows, "stats().rows counts the rows parsed");
  FUZZ_CHECK(mapping->spec().num_dense() == CriteoConfig::kNumDense, "13 dense fields");
  FUZZ_CHECK(mapping->spec().num_sparse() == CriteoConfig::kNumSparse, "26 sparse features");
}

}  // namespace
}  // namespace crank::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (crank::SetLogLevel(crank::LogLevel::kError), true);
  (void)quiet;
  if (size == 0) return 0;
  try {
    crank::fuzz::Run(data, size);
  } catch (const crank::Error&) {
    // Malformed input refused with one of crank's exceptions: the expected outcome.
  }
  return 0;
}
