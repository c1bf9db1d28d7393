// CheckpointWriter: serializes records in the layout of crank/io/checkpoint_format.h.

#include <fmt/format.h>

#include <bit>
#include <cstring>
#include <utility>

#include "crank/base/error.h"
#include "crank/io/atomic_file.h"
#include "crank/io/checkpoint.h"
#include "crank/io/checkpoint_format.h"
#include "crank/io/crc32c.h"

namespace crank {
namespace {

namespace cf = checkpoint_format;

static_assert(std::endian::native == std::endian::little,
              "the checkpoint writer stores payloads in host order, which must be little-endian");

// Little-endian encoder for the small fixed-layout parts (header, record headers, footer).
class Bytes {
 public:
  void PutU32(uint32_t v) { PutRaw(&v, 4); }
  void PutU64(uint64_t v) { PutRaw(&v, 8); }
  void PutRaw(const void* p, size_t n) {
    const auto* c = static_cast<const char*>(p);
    data_.insert(data_.end(), c, c + n);
  }
  const char* data() const { return data_.data(); }
  size_t size() const { return data_.size(); }

 private:
  std::vector<char> data_;
};

// Appends to the file while keeping the CRC-32C of everything written so far.
class CrcSink {
 public:
  explicit CrcSink(AtomicFileWriter& file) : file_(file) {}
  void Append(const void* data, size_t n) {
    crc_ = Crc32cExtend(crc_, data, n);
    file_.Append(data, n);
  }
  void Append(const Bytes& b) { Append(b.data(), b.size()); }
  uint32_t crc() const { return crc_; }

 private:
  AtomicFileWriter& file_;
  uint32_t crc_ = 0;
};

// The record kind of a 16-bit tensor of `precision`; InvalidArgument for kFp32.
uint32_t Kind16(const std::string& name, EmbeddingPrecision precision) {
  CRANK_REQUIRE(precision != EmbeddingPrecision::kFp32,
                "checkpoint record '{}': a 16-bit tensor must be bf16 or fp16", name);
  return static_cast<uint32_t>(precision == EmbeddingPrecision::kBf16
                                   ? cf::RecordKind::kBfloat16Tensor
                                   : cf::RecordKind::kFloat16Tensor);
}

void CheckShape(const std::string& name, const std::vector<int64_t>& shape) {
  CRANK_REQUIRE(shape.size() <= cf::kMaxRank, "checkpoint tensor '{}' has rank {}; the limit is {}",
                name, shape.size(), cf::kMaxRank);
  for (int64_t d : shape) {
    CRANK_REQUIRE(d >= 0, "checkpoint tensor '{}': a negative dimension {}", name, d);
  }
}

struct PayloadView {
  const void* data = nullptr;
  uint64_t length = 0;
  std::vector<int64_t> dims;
};

// The payload of a produced tensor of `shape`: its data comes when the record is written.
PayloadView ProducedPayload(const std::vector<int64_t>& shape, size_t element_bytes) {
  uint64_t elements = 1;
  for (int64_t d : shape) elements *= static_cast<uint64_t>(d);
  return {nullptr, elements * element_bytes, shape};
}

}  // namespace

CheckpointWriter::Record& CheckpointWriter::NewRecord(std::string name, uint32_t kind) {
  CRANK_REQUIRE(!name.empty(), "checkpoint record names must not be empty");
  CRANK_REQUIRE(name.size() <= cf::kMaxNameLength,
                "checkpoint record name '{}...' is {} bytes long; the limit is {}",
                name.substr(0, 32), name.size(), cf::kMaxNameLength);
  CRANK_REQUIRE(!index_.contains(name), "checkpoint record '{}' was already added", name);
  index_.emplace(name, records_.size());
  Record& r = records_.emplace_back();
  r.name = std::move(name);
  r.kind = kind;
  return r;
}

void CheckpointWriter::AddTensor(std::string name, const Tensor& t) {
  CRANK_REQUIRE(t.rank() <= static_cast<int>(cf::kMaxRank),
                "checkpoint tensor '{}' has rank {}; the limit is {}", name, t.rank(),
                cf::kMaxRank);
  NewRecord(std::move(name), static_cast<uint32_t>(cf::RecordKind::kFloat32Tensor)).tensor = &t;
}

void CheckpointWriter::AddTensor(std::string name, Tensor&& t) {
  CRANK_REQUIRE(t.rank() <= static_cast<int>(cf::kMaxRank),
                "checkpoint tensor '{}' has rank {}; the limit is {}", name, t.rank(),
                cf::kMaxRank);
  Record& r = NewRecord(std::move(name), static_cast<uint32_t>(cf::RecordKind::kFloat32Tensor));
  r.owned_tensor = std::make_unique<Tensor>(std::move(t));
  r.tensor = r.owned_tensor.get();
}

void CheckpointWriter::AddTensor(std::string name, std::vector<int64_t> shape,
                                 TensorProducer produce) {
  CheckShape(name, shape);
  CRANK_REQUIRE(produce != nullptr, "checkpoint tensor '{}': no producer", name);
  Record& r = NewRecord(std::move(name), static_cast<uint32_t>(cf::RecordKind::kFloat32Tensor));
  r.produced_shape = std::move(shape);
  r.produce = std::move(produce);
}

void CheckpointWriter::AddInt64s(std::string name, std::vector<int64_t> values) {
  NewRecord(std::move(name), static_cast<uint32_t>(cf::RecordKind::kInt64Array)).int64s =
      std::move(values);
}

void CheckpointWriter::AddTensor16(std::string name, EmbeddingPrecision precision,
                                   const Tensor16& t) {
  const uint32_t kind = Kind16(name, precision);
  CheckShape(name, t.shape());
  NewRecord(std::move(name), kind).tensor16 = &t;
}

void CheckpointWriter::AddTensor16(std::string name, EmbeddingPrecision precision,
                                   std::vector<int64_t> shape, Tensor16Producer produce) {
  const uint32_t kind = Kind16(name, precision);
  CheckShape(name, shape);
  CRANK_REQUIRE(produce != nullptr, "checkpoint tensor '{}': no producer", name);
  Record& r = NewRecord(std::move(name), kind);
  r.produced_shape = std::move(shape);
  r.produce16 = std::move(produce);
}

void CheckpointWriter::AddString(std::string name, std::string bytes) {
  NewRecord(std::move(name), static_cast<uint32_t>(cf::RecordKind::kBytes)).bytes =
      std::move(bytes);
}

CheckpointFileInfo CheckpointWriter::Save(const std::string& path) const {
  // The layout of each record's payload, and the total length declared in the header.
  std::vector<PayloadView> payloads;
  payloads.reserve(records_.size());
  uint64_t records_length = 0;
  uint32_t version = 1;  // 2 with a 16-bit tensor (checkpoint_format.h)
  for (const Record& r : records_) {
    PayloadView p;
    switch (static_cast<cf::RecordKind>(r.kind)) {
      case cf::RecordKind::kFloat32Tensor:
        if (r.produce) {
          p = ProducedPayload(r.produced_shape, sizeof(float));
        } else {
          p = {r.tensor->data(), static_cast<uint64_t>(r.tensor->size()) * sizeof(float),
               r.tensor->shape()};
        }
        break;
      case cf::RecordKind::kInt64Array:
        p = {r.int64s.data(),
             r.int64s.size() * sizeof(int64_t),
             {static_cast<int64_t>(r.int64s.size())}};
        break;
      case cf::RecordKind::kBytes:
        p = {r.bytes.data(), r.bytes.size(), {static_cast<int64_t>(r.bytes.size())}};
        break;
      case cf::RecordKind::kBfloat16Tensor:
      case cf::RecordKind::kFloat16Tensor:
        if (r.produce16) {
          p = ProducedPayload(r.produced_shape, sizeof(uint16_t));
        } else {
          p = {r.tensor16->data(), static_cast<uint64_t>(r.tensor16->size()) * sizeof(uint16_t),
               r.tensor16->shape()};
        }
        version = cf::kFormatVersion16;
        break;
    }
    CRANK_CHECK(p.dims.size() <= cf::kMaxRank, "record '{}' rank {}", r.name, p.dims.size());
    records_length += cf::kRecordFixedSize + r.name.size() + 8 * p.dims.size() + p.length;
    payloads.push_back(std::move(p));
  }
  const uint64_t file_length = cf::kHeaderSize + records_length + cf::kFooterSize;

  AtomicFileWriter file(path);
  CrcSink out(file);

  Bytes header;
  header.PutRaw(cf::kMagic, sizeof(cf::kMagic));
  header.PutU32(version);
  header.PutU32(0);  // flags
  header.PutU64(records_.size());
  header.PutU64(records_length);
  header.PutU32(0);  // reserved
  header.PutU32(Crc32c(header.data(), header.size()));
  CRANK_CHECK(header.size() == cf::kHeaderSize);
  out.Append(header);

  uint32_t digest = 0;  // CheckpointFileInfo::records_crc32c
  for (size_t i = 0; i < records_.size(); ++i) {
    const Record& r = records_[i];
    PayloadView& p = payloads[i];
    if (r.produce) {
      const Tensor& t = r.produce();
      CRANK_CHECK(t.shape() == p.dims, "the producer of '{}' returned shape {}", r.name,
                  t.ShapeString());
      p.data = t.data();
    } else if (r.produce16) {
      const Tensor16& t = r.produce16();
      CRANK_CHECK(t.shape() == p.dims, "the producer of '{}' returned shape {}", r.name,
                  ShapeToString(t.shape()));
      p.data = t.data();
    }
    Bytes h;
    h.PutU32(r.kind);
    h.PutU32(static_cast<uint32_t>(r.name.size()));
    h.PutU32(static_cast<uint32_t>(p.dims.size()));
    h.PutRaw(r.name.data(), r.name.size());
    for (int64_t d : p.dims) h.PutU64(static_cast<uint64_t>(d));
    h.PutU64(p.length);
    const uint32_t header_crc = Crc32c(h.data(), h.size());
    h.PutU32(header_crc);
    out.Append(h);
    out.Append(p.data, p.length);
    const uint32_t payload_crc = Crc32c(p.data, p.length);
    out.Append(&payload_crc, sizeof(payload_crc));
    const uint32_t crcs[2] = {header_crc, payload_crc};
    digest = Crc32cExtend(digest, crcs, sizeof(crcs));
  }

  Bytes footer;
  footer.PutU64(file_length);
  out.Append(footer);
  Bytes tail;
  const uint32_t file_crc = out.crc();
  tail.PutU32(file_crc);
  tail.PutRaw(cf::kEndMarker, sizeof(cf::kEndMarker));
  out.Append(tail);
  CRANK_CHECK(file.bytes_appended() == file_length, "wrote {} bytes, declared {}",
              file.bytes_appended(), file_length);
  file.Commit();
  return {file_length, file_crc, digest};
}

}  // namespace crank
