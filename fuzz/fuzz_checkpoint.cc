// Fuzz target: checkpoint files (Checkpoint::Load, ModelCheckpoint::Load, the record getters,
// RestoreVariables / RestoreOptimizer into the tiny model of tiny_model.h, and
// DataMapping::Deserialize of the stored mapping).
//
// The input is the file. It is loaded as is, and then once more with every checksum it
// covers recomputed (header CRC, record header and payload CRCs, whole-file CRC), so that
// mutations of names, shapes, kinds, lengths and payloads, which the CRCs would otherwise
// catch first, reach the structural checks and the model code behind them. The seed corpus
// holds a valid model checkpoint of the tiny model (fuzz/make_seeds.cc).
//
// Expected outcomes: a crank::Error (IoError) or a checkpoint whose every record reads back
// with exactly one kind and a consistent size.

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <memory>
#include <string>
#include <string_view>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/mapping.h"
#include "crank/io/checkpoint.h"
#include "crank/io/checkpoint_format.h"
#include "crank/io/crc32c.h"
#include "crank/io/model_checkpoint.h"
#include "crank/model/ranking.h"
#include "fuzz_util.h"
#include "tiny_model.h"

namespace crank::fuzz {
namespace {

namespace fmt_ = checkpoint_format;

uint64_t Get(const std::string& b, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<uint8_t>(b[at + i]);
  return v;
}

void Put32(std::string* b, size_t at, uint32_t v) {
  for (int i = 0; i < 4; ++i) (*b)[at + i] = static_cast<char>((v >> (8 * i)) & 0xff);
}

uint32_t Crc(const std::string& b, size_t begin, size_t end) {
  return Crc32c(b.data() + begin, end - begin);
}

// `bytes` with the checksums recomputed wherever the layout can be followed.
std::string RepairChecksums(std::string b) {
  const size_t n = b.size();
  if (n < fmt_::kHeaderSize) return b;
  Put32(&b, fmt_::kHeaderCrcOffset, Crc(b, 0, fmt_::kHeaderCrcOffset));
  if (n < fmt_::kMinFileSize) return b;
  const size_t records_end = n - fmt_::kFooterSize;
  size_t pos = fmt_::kHeaderSize;
  const uint64_t count = Get(b, 16, 8);
  for (uint64_t r = 0; r < count && pos + fmt_::kRecordFixedSize <= records_end; ++r) {
    const uint64_t name_length = Get(b, pos + 4, 4);
    const uint64_t rank = Get(b, pos + 8, 4);
    if (name_length > fmt_::kMaxNameLength || rank > fmt_::kMaxRank) break;
    const size_t header_length = 12 + name_length + 8 * rank + 8;
    if (header_length + 4 > records_end - pos) break;
    Put32(&b, pos + header_length, Crc(b, pos, pos + header_length));
    const uint64_t payload_length = Get(b, pos + header_length - 8, 8);
    const size_t payload = pos + header_length + 4;
    if (payload_length > records_end - payload || records_end - payload - payload_length < 4) {
      break;
    }
    Put32(&b, payload + payload_length, Crc(b, payload, payload + payload_length));
    pos = payload + payload_length + 4;
  }
  Put32(&b, n - 8, Crc(b, 0, n - 8));
  return b;
}

void CheckRecords(const Checkpoint& c) {
  for (const std::string& name : c.Names()) {
    FUZZ_CHECK(c.Has(name), "Names() lists '" + name + "' but Has() denies it");
    int kinds = 0;
    try {
      const Tensor& t = c.GetTensor(name);
      int64_t elements = 1;
      for (const int64_t d : t.shape()) {
        FUZZ_CHECK(d >= 0, "negative dimension");
        elements *= d;
      }
      FUZZ_CHECK(elements == t.size(), "tensor size differs from its shape");
      ++kinds;
    } catch (const IoError&) {
    }
    try {
      c.GetInt64s(name);
      ++kinds;
    } catch (const IoError&) {
    }
    try {
      c.GetString(name);
      ++kinds;
    } catch (const IoError&) {
    }
    FUZZ_CHECK(kinds == 1, "record '" + name + "' must read back as exactly one kind");
  }
}

void LoadModel(const std::string& path) {
  ModelCheckpoint m = ModelCheckpoint::Load(path);
  (void)m.config_yaml();
  (void)m.state();
  try {
    const DataMapping mapping = DataMapping::Deserialize(m.mapping());
    const std::string text = mapping.Serialize();
    FUZZ_CHECK(DataMapping::Deserialize(text).Serialize() == text, "mapping round trip");
  } catch (const Error&) {
    // A damaged mapping is refused; the model records may still be fine.
  }
  static Ranking* model = new Ranking(TinyModelConfig());
  try {
    m.RestoreVariables(*model);
  } catch (const Error&) {
  }
  std::unique_ptr<Optimizer> optimizer = TinyOptimizer();
  m.RestoreOptimizer(*model, *optimizer);
}

void LoadFile(const std::string& bytes) {
  const std::string path = WriteScratchFile("fuzz.ckpt", bytes);
  try {
    const Checkpoint c = Checkpoint::Load(path);
    FUZZ_CHECK(c.format_version() >= 1 && c.format_version() <= fmt_::kFormatVersion,
               "only versions 1 to kFormatVersion exist");
    CheckRecords(c);
  } catch (const Error&) {
  }
  try {
    LoadModel(path);
  } catch (const Error&) {
  }
}

}  // namespace
}  // namespace crank::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const bool quiet = (crank::SetLogLevel(crank::LogLevel::kError), true);
  (void)quiet;
  const std::string bytes(reinterpret_cast<const char*>(data), size);
  crank::fuzz::LoadFile(bytes);
  const std::string repaired = crank::fuzz::RepairChecksums(bytes);
  if (repaired != bytes) crank::fuzz::LoadFile(repaired);
  return 0;
}
