#include "crank/summary/tfrecord.h"

#include "crank/io/crc32c.h"

namespace crank {
namespace {

void AppendLittleEndian(uint64_t v, int bytes, std::string* out) {
  for (int i = 0; i < bytes; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

}  // namespace

uint32_t MaskedCrc32c(const void* data, size_t n) {
  const uint32_t crc = Crc32c(data, n);
  return ((crc >> 15) | (crc << 17)) + kTfRecordCrcMaskDelta;
}

void AppendTfRecord(std::string_view data, std::string* out) {
  std::string header;
  AppendLittleEndian(data.size(), 8, &header);
  AppendLittleEndian(MaskedCrc32c(header.data(), header.size()), 4, &header);
  out->append(header);
  out->append(data);
  AppendLittleEndian(MaskedCrc32c(data.data(), data.size()), 4, out);
}

}  // namespace crank
