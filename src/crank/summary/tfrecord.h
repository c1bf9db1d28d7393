#ifndef CRANK_SUMMARY_TFRECORD_H_
#define CRANK_SUMMARY_TFRECORD_H_

// TFRecord framing, as TensorFlow's io/record_writer.cc writes it (event files are TFRecord
// files of serialized Event messages). One record is
//   uint64 length (little-endian) | uint32 masked_crc32c(length's 8 bytes) |
//   data[length] | uint32 masked_crc32c(data)
// with masked_crc32c(x) = ((c >> 15) | (c << 17)) + 0xa282ead8, c = CRC-32C(x) (io/crc32c.h),
// and both CRCs little-endian. Pure functions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

namespace crank {

inline constexpr uint32_t kTfRecordCrcMaskDelta = 0xa282ead8u;
inline constexpr size_t kTfRecordHeaderBytes = 12;  // length and its CRC
inline constexpr size_t kTfRecordFooterBytes = 4;   // the data's CRC

// The masked CRC-32C of data[0, n).
uint32_t MaskedCrc32c(const void* data, size_t n);

// Appends one record holding `data` to *out.
void AppendTfRecord(std::string_view data, std::string* out);

}  // namespace crank

#endif  // CRANK_SUMMARY_TFRECORD_H_
