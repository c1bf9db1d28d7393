// Fuzz target: delimited text with a fixed schema (DelimitedParser, SplitDelimited,
// ParseNumber, derived fields, JoinTable, LineReader in file and text mode, DataMapping with
// vocabularies and statistics, InMemoryDataset / StreamingReader, BufferParser).
//
// Input: byte 0 selects the options; the rest is the file. If the rest contains the byte 0x1d
// (ASCII group separator), the bytes after the first one are the joined file instead of the
// default one. The schema: columns user, item, x, y (label), w (weight), ts; the joined file
// brings title and tags for each item.
//   bit 0     on_error: fail (else skip)
//   bit 1     task: bce (else mse)
//   bits 2-3  delimiter: ',', tab, ';', ':' (the joined file uses the same)
//   bit 4     hold-out {every: 2, offset: 0}; the reader reads the held-out rows
//   bit 5     max_line_bytes 32 (else the default)
//   bit 6     StreamingReader reading in 4096-byte chunks, the text repeated to about 9 KB
//             (else InMemoryDataset)
//   bit 7     no weight column
// The mapping is built from the file (vocabularies, standardisation statistics). Then the
// reader's batches must equal what BufferParser makes of the same text, and both must fail
// with the same error when one fails. Expected outcomes: equal valid batches or equal
// crank::Error messages.

#include <cstddef>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/batch_reader.h"
#include "crank/data/buffer_parser.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "fuzz_util.h"

namespace crank::fuzz {
namespace {

constexpr char kDefaultJoin[] =
    "item,title,tags\n"
    "i1,\"Movie, The (1995)\",a|b\n"
    "i2,No Year,b|c|b\n"
    "i3,Babylon 5 (1994) (TV),\n";

std::string ConfigYaml(uint8_t sel, const std::string& join_path) {
  const char* delimiters[] = {"\",\"", "tab", "\";\"", "\":\""};
  const std::string delimiter = delimiters[(sel >> 2) & 3];
  std::string y;
  y += "format: delimited\n";
  y += std::string("task: ") + ((sel & 0x02) ? "bce" : "mse") + "\n";
  y += std::string("on_error: ") + ((sel & 0x01) ? "fail" : "skip") + "\n";
  if (sel & 0x10) y += "holdout: {every: 2, offset: 0}\n";
  if (sel & 0x20) y += "max_line_bytes: 32\n";
  y += "delimited:\n";
  y += "  delimiter: " + delimiter + "\n";
  y += "  label: y\n";
  if (!(sel & 0x80)) y += "  weight: w\n";
  y += "  join: {file: \"" + join_path +
       "\", key: item, columns: [title, tags], delimiter: " + delimiter + "}\n";
  y += "  dense:\n";
  y += "    - x\n";
  y += "    - {name: lx, column: x, transform: log1p}\n";
  y += "    - {name: zx, column: x, transform: standardize, missing: mean}\n";
  y += "    - {name: year, column: title, derive: title_year, transform: standardize}\n";
  y += "    - {name: hour, column: ts, derive: hour}\n";
  y += "    - {name: month, column: ts, derive: month, missing: mean}\n";
  y += "  categorical:\n";
  y += "    - {name: user, hash_buckets: 50}\n";
  y += "    - {name: item, vocabulary: {max_distinct: 4}}\n";
  y += "    - {name: dow, column: ts, derive: day_of_week, vocabulary: {}}\n";
  y += "    - {name: year_token, column: ts, derive: year, hash_buckets: 7}\n";
  y += "  multi_hot:\n";
  y += "    - {name: tags, separator: '|', vocabulary: {min_count: 2}}\n";
  y += "    - {name: title_words, column: title, separator: ' ', hash_buckets: 11}\n";
  return y;
}

struct Outcome {
  std::vector<uint64_t> rows;
  std::optional<std::string> error;  // what() of the crank::Error, if one was thrown
  int64_t row_count = 0;
  int64_t skipped = 0;
};

Outcome ReadWithReader(const std::shared_ptr<const DataMapping>& mapping, const std::string& path,
                       RowSplit split, bool streaming) {
  Outcome out;
  try {
    ReaderOptions options;
    options.batch_size = 3;
    options.split = split;
    options.chunk_bytes = 4096;  // the smallest allowed
    options.prefetch_batches = 2;
    std::unique_ptr<BatchReader> reader = MakeBatchReader(mapping, {path}, options, !streaming);
    Batch batch;
    while (reader->Next(&batch)) {
      CheckBatch(batch, mapping->spec(), batch.dense.dim(0));
      FUZZ_CHECK(batch.dense.dim(0) >= 1 && batch.dense.dim(0) <= 3, "1..batch_size rows");
      AppendRows(batch, &out.rows);
    }
    out.row_count = reader->stats().rows;
    out.skipped = reader->stats().rows_skipped;
  } catch (const Error& e) {
    out.error = e.what();
  }
  return out;
}

Outcome ReadWithBufferParser(const std::shared_ptr<const DataMapping>& mapping,
                             std::string_view text, const std::string& path, RowSplit split) {
  Outcome out;
  try {
    BufferParser parser(mapping);
    Batch batch;
    const int64_t rows = parser.Parse(text, &batch, path, split);
    CheckBatch(batch, mapping->spec(), rows);
    AppendRows(batch, &out.rows);
    out.row_count = rows;
    out.skipped = parser.stats().skipped;
  } catch (const Error& e) {
    out.error = e.what();
  }
  return out;
}

void Run(const uint8_t* data, size_t size) {
  const uint8_t sel = data[0];
  std::string_view text(reinterpret_cast<const char*>(data) + 1, size - 1);
  std::string_view join = kDefaultJoin;
  if (const size_t gs = text.find('\x1d'); gs != std::string_view::npos) {
    join = text.substr(gs + 1);
    text = text.substr(0, gs);
  }
  // The streaming reader reads at least 4096 bytes at a time: repeat the text to about 9 KB
  // so that lines straddle chunk boundaries.
  std::string repeated;
  if ((sel & 0x40) && !text.empty()) {
    while (repeated.size() < 9000) repeated.append(text);
    text = repeated;
  }
  const std::string join_path = WriteScratchFile("join.csv", join);
  const std::string path = WriteScratchFile("rows.csv", text);

  // Config errors here would be a bug of this target, not of the input: let them escape.
  static std::map<uint8_t, DataConfig> configs;
  if (!configs.count(sel)) {
    configs[sel] = DataConfig::FromYamlString(ConfigYaml(sel, join_path), "fuzz.yaml");
  }
  const DataConfig& config = configs[sel];
  std::shared_ptr<const DataMapping> mapping;
  try {
    mapping = std::make_shared<const DataMapping>(DataMapping::Build(config, {path}));
  } catch (const Error&) {
    return;  // malformed joined file, header without a needed column, fail policy, ...
  }
  const std::string serialized = mapping->Serialize();
  FUZZ_CHECK(DataMapping::Deserialize(serialized).Serialize() == serialized,
             "Deserialize(Serialize()) must restore the mapping exactly");

  const RowSplit split = (sel & 0x10) ? RowSplit::kEval : RowSplit::kAll;
  const Outcome a = ReadWithReader(mapping, path, split, (sel & 0x40) != 0);
  const Outcome b = ReadWithBufferParser(mapping, text, path, split);
  FUZZ_CHECK(a.error == b.error, "reader error '" + a.error.value_or("none") +
                                     "' differs from BufferParser error '" +
                                     b.error.value_or("none") + "'");
  if (!a.error) {
    FUZZ_CHECK(a.rows == b.rows, "reader and BufferParser give different rows");
    FUZZ_CHECK(a.row_count == b.row_count, "row counts differ");
    FUZZ_CHECK(a.skipped == b.skipped, "skipped-row counts differ");
  }
}

}  // namespace
}  // namespace crank::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (crank::SetLogLevel(crank::LogLevel::kError), true);
  (void)quiet;
  if (size == 0) return 0;
  crank::fuzz::Run(data, size);
  return 0;
}
