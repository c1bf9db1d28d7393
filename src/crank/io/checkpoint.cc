// Checkpoint::Load: verifies and decodes the layout of crank/io/checkpoint_format.h.
//
// Every length read from the file is bounded by the bytes that remain in the file before
// anything is allocated for it, so hostile input cannot cause huge allocations or overreads.

#include "crank/io/checkpoint.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cerrno>
#include <cstring>
#include <limits>
#include <system_error>
#include <utility>

#include "crank/base/error.h"
#include "crank/io/checkpoint_format.h"
#include "crank/io/crc32c.h"

namespace crank {
namespace {

namespace cf = checkpoint_format;

static_assert(std::endian::native == std::endian::little,
              "the checkpoint reader loads payloads in host order, which must be little-endian");

constexpr size_t kReadBufferSize = size_t{64} << 10;

std::string ErrorText(int err) { return std::error_code(err, std::generic_category()).message(); }

uint32_t LoadU32(const unsigned char* p) {
  uint32_t v;
  std::memcpy(&v, p, 4);
  return v;
}

uint64_t LoadU64(const unsigned char* p) {
  uint64_t v;
  std::memcpy(&v, p, 8);
  return v;
}

// Record names as they appear in messages: printable ASCII kept, other bytes as \xNN.
std::string Printable(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c >= 0x20 && c < 0x7F && c != '\\') {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

const char* KindName(cf::RecordKind kind) {
  switch (kind) {
    case cf::RecordKind::kFloat32Tensor:
      return "tensor";
    case cf::RecordKind::kInt64Array:
      return "int64 array";
    case cf::RecordKind::kBytes:
      return "string";
    case cf::RecordKind::kBfloat16Tensor:
      return "bfloat16 tensor";
    case cf::RecordKind::kFloat16Tensor:
      return "float16 tensor";
  }
  return "record";
}

// Reads exactly n bytes at `offset` (pread, EINTR-safe). Returns false at end of file.
bool PreadFully(int fd, void* dst, size_t n, uint64_t offset, int* err) {
  char* p = static_cast<char*>(dst);
  while (n > 0) {
    const ssize_t r = ::pread(fd, p, n, static_cast<off_t>(offset));
    if (r < 0) {
      if (errno == EINTR) continue;
      *err = errno;
      return false;
    }
    if (r == 0) {
      *err = 0;
      return false;
    }
    p += r;
    n -= static_cast<size_t>(r);
    offset += static_cast<uint64_t>(r);
  }
  return true;
}

class Fd {
 public:
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() {
    if (fd_ >= 0) ::close(fd_);
  }
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }

 private:
  int fd_;
};

}  // namespace

// Decodes one file into a Checkpoint. A friend of Checkpoint.
class CheckpointReader {
 public:
  explicit CheckpointReader(std::string path) : path_(std::move(path)) {}

  Checkpoint Read() {
    Fd fd(::open(path_.c_str(), O_RDONLY | O_CLOEXEC));
    if (fd.get() < 0) {
      const int err = errno;
      throw IoError(fmt::format("cannot open checkpoint {}: {}", path_, ErrorText(err)));
    }
    fd_ = fd.get();
    struct stat st;
    if (::fstat(fd_, &st) != 0) {
      const int err = errno;
      throw IoError(fmt::format("cannot stat checkpoint {}: {}", path_, ErrorText(err)));
    }
    if (!S_ISREG(st.st_mode)) {
      throw IoError(fmt::format("{} is not a crank checkpoint ({})", path_,
                                S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file"));
    }
    file_size_ = static_cast<uint64_t>(st.st_size);

    Checkpoint c;
    c.path_ = path_;
    c.format_version_ = ReadHeader();
    ReadFooter();
    pos_ = cf::kHeaderSize;
    end_ = file_length_ - cf::kFooterSize;
    crc_ = Crc32c(header_, cf::kHeaderSize);
    for (uint64_t i = 0; i < record_count_; ++i) ReadRecord(i, c);
    if (pos_ != end_) {
      Corrupted(
          fmt::format("{} bytes follow the last of its {} records", end_ - pos_, record_count_));
    }
    crc_ = Crc32cExtend(crc_, footer_, 8);
    if (crc_ != LoadU32(footer_ + 8)) Corrupted("checksum mismatch in footer");
    c.file_info_ = {file_length_, crc_, digest_};
    return c;
  }

 private:
  [[noreturn]] void Corrupted(const std::string& what) const {
    throw IoError(fmt::format("{} is corrupted ({})", path_, what));
  }
  [[noreturn]] void Truncated(uint64_t expected, bool at_least) const {
    throw IoError(fmt::format("{} is truncated (expected {}{} bytes, found {})", path_,
                              at_least ? "at least " : "", expected, file_size_));
  }
  [[noreturn]] void ReadFailed(int err) const {
    if (err == 0) {
      throw IoError(
          fmt::format("{} is truncated (it shrank to fewer than {} bytes while being "
                      "read)",
                      path_, file_length_));
    }
    throw IoError(fmt::format("cannot read checkpoint {}: {}", path_, ErrorText(err)));
  }

  // Validates magic, version, header checksum and the total length; returns the version.
  uint32_t ReadHeader() {
    const size_t n = static_cast<size_t>(std::min<uint64_t>(file_size_, cf::kHeaderSize));
    int err = 0;
    if (!PreadFully(fd_, header_, n, 0, &err)) ReadFailed(err);
    if (std::memcmp(header_, cf::kMagic, std::min(n, sizeof(cf::kMagic))) != 0) {
      throw IoError(fmt::format("{} is not a crank checkpoint (bad magic)", path_));
    }
    if (n < cf::kHeaderSize) {
      // Too short to verify the header; a version from the future is still worth naming.
      if (n >= cf::kVersionOffset + 4) CheckVersion(LoadU32(header_ + cf::kVersionOffset));
      Truncated(cf::kMinFileSize, /*at_least=*/true);
    }
    if (Crc32c(header_, cf::kHeaderCrcOffset) != LoadU32(header_ + cf::kHeaderCrcOffset)) {
      Corrupted("checksum mismatch in header");
    }
    const uint32_t version = LoadU32(header_ + cf::kVersionOffset);
    CheckVersion(version);
    if (LoadU32(header_ + 12) != 0 || LoadU32(header_ + 32) != 0) {
      Corrupted("reserved header fields are not zero");
    }
    record_count_ = LoadU64(header_ + 16);
    const uint64_t records_length = LoadU64(header_ + 24);
    if (records_length > std::numeric_limits<uint64_t>::max() - cf::kMinFileSize) {
      Corrupted(fmt::format("impossible records length {}", records_length));
    }
    file_length_ = records_length + cf::kMinFileSize;
    if (file_size_ < file_length_) Truncated(file_length_, /*at_least=*/false);
    if (file_size_ > file_length_) {
      Corrupted(fmt::format("expected {} bytes, found {}: unexpected trailing data", file_length_,
                            file_size_));
    }
    if (record_count_ > records_length / cf::kMinRecordSize) {
      Corrupted(fmt::format("{} records cannot fit in {} bytes", record_count_, records_length));
    }
    return version;
  }

  void CheckVersion(uint32_t version) const {
    if (version > cf::kFormatVersion) {
      throw IoError(fmt::format(
          "checkpoint {} has format version {}; this crank reads up to {}: upgrade crank", path_,
          version, cf::kFormatVersion));
    }
    if (version == 0) Corrupted("format version 0 does not exist");
  }

  void ReadFooter() {
    int err = 0;
    if (!PreadFully(fd_, footer_, cf::kFooterSize, file_length_ - cf::kFooterSize, &err)) {
      ReadFailed(err);
    }
    if (std::memcmp(footer_ + 12, cf::kEndMarker, sizeof(cf::kEndMarker)) != 0) {
      Corrupted("bad end marker");
    }
    if (LoadU64(footer_) != file_length_) {
      Corrupted(
          fmt::format("the footer says {} bytes, the header {}", LoadU64(footer_), file_length_));
    }
  }

  uint64_t remaining() const { return end_ - pos_; }

  // Reads the next n bytes of the records section into dst, extending the whole-file CRC.
  // Callers bound n by remaining() first.
  void Read(void* dst, uint64_t n) {
    CRANK_CHECK(n <= remaining(), "read of {} bytes with {} left", n, remaining());
    char* out = static_cast<char*>(dst);
    uint64_t left = n;
    while (left > 0) {
      if (buffer_begin_ == buffer_end_) {
        if (left >= kReadBufferSize) {  // Large payloads go straight to their destination.
          int err = 0;
          if (!PreadFully(fd_, out, static_cast<size_t>(left), pos_, &err)) ReadFailed(err);
          pos_ += left;
          break;
        }
        Refill();
      }
      const size_t take =
          static_cast<size_t>(std::min<uint64_t>(left, buffer_end_ - buffer_begin_));
      std::memcpy(out, buffer_.data() + buffer_begin_, take);
      buffer_begin_ += take;
      pos_ += take;
      out += take;
      left -= take;
    }
    crc_ = Crc32cExtend(crc_, dst, static_cast<size_t>(n));
  }

  void Refill() {
    if (buffer_.empty()) buffer_.resize(kReadBufferSize);
    const size_t n = static_cast<size_t>(std::min<uint64_t>(kReadBufferSize, remaining()));
    int err = 0;
    if (!PreadFully(fd_, buffer_.data(), n, pos_, &err)) ReadFailed(err);
    buffer_begin_ = 0;
    buffer_end_ = n;
  }

  uint32_t ReadU32() {
    unsigned char b[4];
    Read(b, 4);
    return LoadU32(b);
  }

  void ReadRecord(uint64_t i, Checkpoint& c) {
    if (remaining() < cf::kMinRecordSize) {
      Corrupted(fmt::format("record #{} overruns the records section", i));
    }
    // Header: the lengths are bounded before use; the CRC then vouches for all of it.
    std::vector<unsigned char> h(12);
    Read(h.data(), 12);
    const uint32_t kind = LoadU32(h.data());
    const uint32_t name_length = LoadU32(h.data() + 4);
    const uint32_t rank = LoadU32(h.data() + 8);
    if (name_length == 0 || name_length > cf::kMaxNameLength || rank > cf::kMaxRank) {
      Corrupted(fmt::format("invalid header of record #{}", i));
    }
    const uint64_t rest = uint64_t{name_length} + 8ull * rank + 8 + 4;
    if (rest + 4 > remaining())
      Corrupted(fmt::format("record #{} overruns the records section", i));
    h.resize(12 + rest);
    Read(h.data() + 12, rest);
    const size_t crc_at = h.size() - 4;
    const uint32_t header_crc = LoadU32(h.data() + crc_at);
    if (Crc32c(h.data(), crc_at) != header_crc) {
      Corrupted(fmt::format("checksum mismatch in the header of record #{}", i));
    }
    std::string name(reinterpret_cast<const char*>(h.data() + 12), name_length);
    std::vector<int64_t> dims(rank);
    for (uint32_t d = 0; d < rank; ++d) {
      dims[d] = static_cast<int64_t>(LoadU64(h.data() + 12 + name_length + 8 * d));
    }
    const uint64_t payload_length = LoadU64(h.data() + 12 + name_length + 8ull * rank);

    const auto record_kind = static_cast<cf::RecordKind>(kind);
    uint64_t element_size = 0;
    switch (record_kind) {
      case cf::RecordKind::kFloat32Tensor:
        element_size = 4;
        break;
      case cf::RecordKind::kInt64Array:
        element_size = 8;
        break;
      case cf::RecordKind::kBytes:
        element_size = 1;
        break;
      case cf::RecordKind::kBfloat16Tensor:
      case cf::RecordKind::kFloat16Tensor:
        if (c.format_version_ < cf::kFormatVersion16) {
          Corrupted(fmt::format("record '{}' is a {}, which format version {} does not have",
                                Printable(name), KindName(record_kind), c.format_version_));
        }
        element_size = 2;
        break;
      default:
        Corrupted(fmt::format("record '{}' has unknown kind {}", Printable(name), kind));
    }
    const bool is_tensor = record_kind == cf::RecordKind::kFloat32Tensor ||
                           record_kind == cf::RecordKind::kBfloat16Tensor ||
                           record_kind == cf::RecordKind::kFloat16Tensor;
    if (!is_tensor && rank != 1) {
      Corrupted(fmt::format("{} record '{}' has rank {}, expected 1", KindName(record_kind),
                            Printable(name), rank));
    }
    // Element count, multiplied in order like Tensor does, without overflow.
    int64_t count = 1;
    for (int64_t d : dims) {
      if (d < 0 || __builtin_mul_overflow(count, d, &count)) {
        Corrupted(fmt::format("record '{}' has an invalid shape {}", Printable(name),
                              ShapeToString(dims)));
      }
    }
    if (static_cast<uint64_t>(count) > payload_length / element_size ||
        static_cast<uint64_t>(count) * element_size != payload_length) {
      Corrupted(fmt::format("record '{}' of shape {} declares {} payload bytes", Printable(name),
                            ShapeToString(dims), payload_length));
    }
    if (c.index_.contains(name)) Corrupted(fmt::format("duplicate record '{}'", Printable(name)));
    if (payload_length > remaining() || remaining() - payload_length < 4) {
      Corrupted(fmt::format("record '{}' overruns the records section ({} payload bytes, {} left)",
                            Printable(name), payload_length, remaining()));
    }

    Checkpoint::Value value;
    void* dst = nullptr;
    switch (record_kind) {
      case cf::RecordKind::kFloat32Tensor: {
        Tensor t;
        t.Resize(dims);
        value = std::move(t);
        dst = std::get<Tensor>(value).data();
        break;
      }
      case cf::RecordKind::kInt64Array:
        value = std::vector<int64_t>(static_cast<size_t>(count));
        dst = std::get<std::vector<int64_t>>(value).data();
        break;
      case cf::RecordKind::kBytes:
        value = std::string(static_cast<size_t>(count), '\0');
        dst = std::get<std::string>(value).data();
        break;
      case cf::RecordKind::kBfloat16Tensor:
      case cf::RecordKind::kFloat16Tensor: {
        value = Checkpoint::Table16{record_kind == cf::RecordKind::kBfloat16Tensor
                                        ? EmbeddingPrecision::kBf16
                                        : EmbeddingPrecision::kFp16,
                                    Tensor16(dims)};
        dst = std::get<Checkpoint::Table16>(value).values.data();
        break;
      }
    }
    if (payload_length > 0) Read(dst, payload_length);
    const uint32_t payload_crc = payload_length > 0 ? Crc32c(dst, payload_length) : 0;
    if (payload_crc != ReadU32()) {
      Corrupted(fmt::format("checksum mismatch in record '{}'", Printable(name)));
    }
    const uint32_t crcs[2] = {header_crc, payload_crc};
    digest_ = Crc32cExtend(digest_, crcs, sizeof(crcs));
    c.index_.emplace(name, c.entries_.size());
    c.entries_.push_back({std::move(name), std::move(value)});
  }

  std::string path_;
  int fd_ = -1;
  uint64_t file_size_ = 0;    // bytes on disk
  uint64_t file_length_ = 0;  // bytes the header declares
  uint64_t record_count_ = 0;
  unsigned char header_[cf::kHeaderSize] = {};
  unsigned char footer_[cf::kFooterSize] = {};
  // Sequential reading of the records section [pos_, end_).
  uint64_t pos_ = 0;
  uint64_t end_ = 0;
  uint32_t crc_ = 0;
  uint32_t digest_ = 0;  // CheckpointFileInfo::records_crc32c
  std::vector<char> buffer_;
  size_t buffer_begin_ = 0;
  size_t buffer_end_ = 0;
};

Checkpoint Checkpoint::Load(const std::string& path) { return CheckpointReader(path).Read(); }

const Checkpoint::Value* Checkpoint::Find(std::string_view name) const {
  const auto it = index_.find(name);
  return it == index_.end() ? nullptr : &entries_[it->second].value;
}

void Checkpoint::Add(std::string name, Value value) {
  CRANK_CHECK(!index_.contains(name), "duplicate record {}", name);
  index_.emplace(name, entries_.size());
  entries_.push_back({std::move(name), std::move(value)});
}

bool Checkpoint::Has(std::string_view name) const { return Find(name) != nullptr; }

void Checkpoint::ThrowMissing(std::string_view what, std::string_view name) const {
  const Value* v = Find(name);
  std::string msg = fmt::format("checkpoint {} has no {} '{}'", path_, what, Printable(name));
  if (v != nullptr) {
    static constexpr const char* kKinds[] = {"a tensor", "an int64 array", "a string",
                                             "a 16-bit tensor"};
    msg += fmt::format(" (the record of that name is {})", kKinds[v->index()]);
  }
  throw IoError(msg);
}

const Tensor& Checkpoint::GetTensor(std::string_view name) const {
  const Value* v = Find(name);
  if (v == nullptr || !std::holds_alternative<Tensor>(*v)) ThrowMissing("tensor", name);
  return std::get<Tensor>(*v);
}

const std::vector<int64_t>& Checkpoint::GetInt64s(std::string_view name) const {
  const Value* v = Find(name);
  if (v == nullptr || !std::holds_alternative<std::vector<int64_t>>(*v)) {
    ThrowMissing("int64 array", name);
  }
  return std::get<std::vector<int64_t>>(*v);
}

const std::string& Checkpoint::GetString(std::string_view name) const {
  const Value* v = Find(name);
  if (v == nullptr || !std::holds_alternative<std::string>(*v)) ThrowMissing("string", name);
  return std::get<std::string>(*v);
}

const Tensor16* Checkpoint::FindTensor16(std::string_view name,
                                         EmbeddingPrecision* precision) const {
  const Value* v = Find(name);
  if (v == nullptr || !std::holds_alternative<Table16>(*v)) return nullptr;
  const Table16& t = std::get<Table16>(*v);
  *precision = t.precision;
  return &t.values;
}

std::vector<std::string> Checkpoint::Names() const {
  std::vector<std::string> names;
  names.reserve(entries_.size());
  for (const Entry& e : entries_) names.push_back(e.name);
  return names;
}

}  // namespace crank
