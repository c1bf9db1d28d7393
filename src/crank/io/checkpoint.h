#ifndef CRANK_IO_CHECKPOINT_H_
#define CRANK_IO_CHECKPOINT_H_

// The checkpoint file: a generic, versioned, checksummed container of named records, written
// atomically. A model checkpoint is made of such records; which names it uses is defined by the
// model code (docs/checkpoint_format.md, "Model records"), not here.
//
// Record kinds:
//   tensor  - a float Tensor of any shape (rank 0..8), stored bit for bit (NaN payloads, -0 and
//             denormals survive a round trip);
//   int64s  - an array of int64 (step counters, RNG state: store uint64 words bit for bit with
//             static_cast<int64_t> and cast back when loading);
//   string  - arbitrary bytes (resolved YAML config, vocabularies, hash sizes, ...);
//   tensor16 - a Tensor16 of bf16 or fp16 values (an embedding table stored in 16 bits), bit
//             for bit, with its precision (format version 2; see checkpoint_format.h).
// Record names are 1..1024 bytes and unique within a file, across kinds.
//
// Example:
//   CheckpointWriter w;
//   w.AddTensor("dense/kernel", kernel);            // kernel: (H, D); referenced until Save
//   w.AddInt64s("step", {step});
//   w.AddString("config", yaml);
//   w.Save("/ckpt/model.ckpt");                      // IoError on failure; old file intact
//   Checkpoint c = Checkpoint::Load("/ckpt/model.ckpt");
//   const Tensor& k = c.GetTensor("dense/kernel");

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "crank/kernels/embedding_precision.h"
#include "crank/tensor/tensor.h"
#include "crank/tensor/tensor16.h"

namespace crank {

// The size and checksums of a checkpoint file. file_crc32c is the footer's whole-file CRC; as
// every part of the file is followed by its own CRC-32C, that value depends on the lengths
// only, not on the contents (a CRC over a message and its CRC is a constant), so it cannot
// tell two files of the same shape apart. records_crc32c, the CRC-32C of the records' stored
// checksums (record header CRC, payload CRC, 8 bytes per record in file order), depends on
// every record's name, shape and contents: it identifies a file's contents.
struct CheckpointFileInfo {
  uint64_t bytes = 0;
  uint32_t file_crc32c = 0;
  uint32_t records_crc32c = 0;
};

// Collects records, then writes them as one checkpoint file. Not thread-safe. Adding a record
// whose name is empty, longer than 1024 bytes or already used throws InvalidArgument.
class CheckpointWriter {
 public:
  // REFERENCES `t` (no copy, so saving large embedding tables does not double memory): `t` must
  // outlive every Save() call and keep its shape and contents until then.
  void AddTensor(std::string name, const Tensor& t);
  // Takes ownership of a temporary or moved-from tensor.
  void AddTensor(std::string name, Tensor&& t);
  // A tensor of `shape` that exists only while Save writes it: Save calls `produce` once, when
  // it reaches this record (records are written in the order added), and writes what it
  // returns, which must have `shape` (CRANK_CHECK) and stay valid until the next producer of
  // this writer is called or Save returns. A file can so hold more than memory would, one
  // produced tensor at a time (a sharded checkpoint streamed into one file, for example).
  // Exceptions from `produce` propagate out of Save, which then leaves no file.
  using TensorProducer = std::function<const Tensor&()>;
  void AddTensor(std::string name, std::vector<int64_t> shape, TensorProducer produce);
  // REFERENCES `t` as AddTensor(name, const Tensor&) does; precision is kBf16 or kFp16.
  void AddTensor16(std::string name, EmbeddingPrecision precision, const Tensor16& t);
  // A 16-bit tensor of `shape` produced while Save writes it, as AddTensor(name, shape, produce).
  using Tensor16Producer = std::function<const Tensor16&()>;
  void AddTensor16(std::string name, EmbeddingPrecision precision, std::vector<int64_t> shape,
                   Tensor16Producer produce);
  void AddInt64s(std::string name, std::vector<int64_t> values);
  void AddString(std::string name, std::string bytes);

  // Number of records added so far.
  size_t size() const { return records_.size(); }

  // Writes atomically: to "<path>.tmp-<pid>", fsync, rename over `path`, fsync the directory
  // (crank/io/atomic_file.h). A crash or kill at any moment leaves either the old file or the
  // new complete file at `path`. Errors (cannot open, short write/ENOSPC/EFBIG, fsync, rename,
  // `path` is a directory) throw IoError naming the path and the reason; the temporary file is
  // removed and the previous file at `path` is untouched. May be called more than once.
  // Returns the size and checksums of the file written.
  CheckpointFileInfo Save(const std::string& path) const;

 private:
  struct Record {
    std::string name;
    const Tensor* tensor = nullptr;  // kFloat32Tensor: referenced or owned_tensor.get()
    std::unique_ptr<Tensor> owned_tensor;
    std::vector<int64_t> produced_shape;  // kFloat32Tensor with `produce`
    TensorProducer produce;
    const Tensor16* tensor16 = nullptr;  // kBfloat16Tensor, kFloat16Tensor: referenced
    Tensor16Producer produce16;          // kBfloat16Tensor, kFloat16Tensor with `produce16`
    std::vector<int64_t> int64s;         // kInt64Array
    std::string bytes;                   // kBytes
    uint32_t kind = 0;
  };
  Record& NewRecord(std::string name, uint32_t kind);

  std::vector<Record> records_;
  std::map<std::string, size_t, std::less<>> index_;
};

// A loaded checkpoint: every byte was verified (structure, per-record and whole-file CRC-32C)
// before Load returns. Immutable after loading, so concurrent readers are safe.
class Checkpoint {
 public:
  // Reads and verifies the whole file. Throws IoError, with a message that starts with or names
  // the path, when the file cannot be read or is not a complete, intact crank checkpoint of a
  // version this build reads (see docs/checkpoint_format.md, "Errors"). Never allocates more
  // than the file's size on hostile input.
  static Checkpoint Load(const std::string& path);

  bool Has(std::string_view name) const;
  // Throw IoError "checkpoint X has no tensor 'Y'" (or "... no int64 array ...", "... no
  // string ...") when the record is absent or has another kind.
  const Tensor& GetTensor(std::string_view name) const;
  const std::vector<int64_t>& GetInt64s(std::string_view name) const;
  const std::string& GetString(std::string_view name) const;
  // The 16-bit tensor `name` and its precision; nullptr when absent or of another kind.
  const Tensor16* FindTensor16(std::string_view name, EmbeddingPrecision* precision) const;

  // Record names in file order.
  std::vector<std::string> Names() const;
  uint32_t format_version() const { return format_version_; }
  const std::string& path() const { return path_; }
  // The size and checksums of the file it was loaded from (verified).
  const CheckpointFileInfo& file_info() const { return file_info_; }

 private:
  struct Table16 {
    EmbeddingPrecision precision;
    Tensor16 values;
  };
  using Value = std::variant<Tensor, std::vector<int64_t>, std::string, Table16>;
  Checkpoint() = default;
  struct Entry {
    std::string name;
    Value value;
  };
  friend class CheckpointReader;
  friend class ShardedCheckpoint;  // re-assembles a sharded checkpoint in memory
  void Add(std::string name, Value value);
  const Value* Find(std::string_view name) const;
  [[noreturn]] void ThrowMissing(std::string_view what, std::string_view name) const;

  std::string path_;
  uint32_t format_version_ = 0;
  CheckpointFileInfo file_info_;
  std::vector<Entry> entries_;
  std::map<std::string, size_t, std::less<>> index_;
};

}  // namespace crank

#endif  // CRANK_IO_CHECKPOINT_H_
