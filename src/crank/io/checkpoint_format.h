#ifndef CRANK_IO_CHECKPOINT_FORMAT_H_
#define CRANK_IO_CHECKPOINT_FORMAT_H_

// Constants of the checkpoint byte layout (docs/checkpoint_format.md has the full tables).
// All integers are little-endian; all checksums are CRC-32C (crank/io/crc32c.h).
//
//   file    = header records footer
//   header  = magic[8] "CRANKCKP" | u32 format_version | u32 flags (0) | u64 record_count
//             | u64 records_length | u32 reserved (0) | u32 header_crc (over bytes [0, 36))
//   record  = u32 kind | u32 name_length | u32 rank | name | i64 dims[rank] | u64 payload_length
//             | u32 record_header_crc (over the record's bytes before it)
//             | payload[payload_length] | u32 payload_crc (over the payload)
//   footer  = u64 file_length | u32 file_crc (over bytes [0, file_length - 8)) | "CEND"
//
// The magic, the format version and the 40-byte header with its CRC at bytes [36, 40) are frozen
// across versions, so every reader can verify a header before trusting its version.

#include <cstddef>
#include <cstdint>

namespace crank::checkpoint_format {

inline constexpr char kMagic[8] = {'C', 'R', 'A', 'N', 'K', 'C', 'K', 'P'};
inline constexpr char kEndMarker[4] = {'C', 'E', 'N', 'D'};
// The newest version this build reads. Version 2 added the 16-bit tensor kinds; a writer
// stamps a file 1 unless it holds such a record, so files without them stay readable by
// version-1 readers.
inline constexpr uint32_t kFormatVersion = 2;
inline constexpr uint32_t kFormatVersion16 = 2;  // the first version with 16-bit tensors

inline constexpr size_t kHeaderSize = 40;
inline constexpr size_t kHeaderCrcOffset = 36;
inline constexpr size_t kVersionOffset = 8;
inline constexpr size_t kFooterSize = 16;
// The smallest valid file: header, no records, footer.
inline constexpr size_t kMinFileSize = kHeaderSize + kFooterSize;

// Bytes of a record's fixed fields: kind, name_length, rank (12), payload_length (8), the two
// CRCs (8). A record also holds its name (>= 1 byte), 8 bytes per dim and its payload.
inline constexpr size_t kRecordFixedSize = 28;
inline constexpr size_t kMinRecordSize = kRecordFixedSize + 1;

inline constexpr uint32_t kMaxNameLength = 1024;
inline constexpr uint32_t kMaxRank = 8;

enum class RecordKind : uint32_t {
  kFloat32Tensor = 1,   // payload: product(dims) IEEE-754 binary32 values, row-major
  kInt64Array = 2,      // rank 1; payload: dims[0] two's-complement int64 values
  kBytes = 3,           // rank 1; payload: dims[0] raw bytes (strings, YAML, blobs)
  kBfloat16Tensor = 4,  // version >= 2; payload: product(dims) bfloat16 values, row-major
  kFloat16Tensor = 5,   // version >= 2; payload: product(dims) IEEE-754 binary16 values
};

}  // namespace crank::checkpoint_format

#endif  // CRANK_IO_CHECKPOINT_FORMAT_H_
