#ifndef CRANK_IO_SHARDED_CHECKPOINT_H_
#define CRANK_IO_SHARDED_CHECKPOINT_H_

// A sharded checkpoint (docs/checkpoint_format.md, "Sharded checkpoints"): the training state of
// a job on several ranks as several checkpoint containers (io/checkpoint.h) written in parallel,
// plus one manifest written last that names them.
//
//   <path>                        the manifest: a container with model/kind
//                                 "crank-ranking-sharded" and sharded/manifest (JSON: the files
//                                 with their sizes and CRC-32C, and which rows of which table
//                                 each holds)
//   <path>.g<G>.main              the configuration, data mapping, dense variables, dense
//                                 optimizer state and training state (written by rank 0)
//   <path>.g<G>.shard<R>-of-<N>   rank R's table rows and their optimizer state
//
// G is the checkpoint's generation: one more than the manifest it replaces, so a new
// checkpoint never writes a file the current manifest names. Every file, the manifest
// included, is written atomically (io/atomic_file.h); the manifest is written only after every
// shard is complete, so the checkpoint at <path> is the manifest's consistent set of files or
// the previous one. A shard file holds the single-file model's records (var/..., opt/...) with
// table records restricted to the shard's rows (the manifest says which); a table stored in 16
// bits has 16-bit "var/" records (the manifest, then of format 2, gives each table's precision).
//
// Reading verifies every file it opens against the manifest (size and the CRC-32C of its
// records' checksums, which identifies its contents: CheckpointFileInfo) besides the container's
// own checks; a listed file that is missing, damaged or of another checkpoint is an IoError naming
// it and the manifest. Re-sharding: ReadTableRows takes any row range of a table, out of whichever
// shards hold it, so a checkpoint loads on any number of ranks. Assemble() rebuilds the single-file
// model's records in memory (the whole model must fit).
//
// Not thread-safe; one ShardedCheckpoint per thread.

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "crank/io/checkpoint.h"

namespace crank {

inline constexpr char kShardedManifestKind[] = "crank-ranking-sharded";
inline constexpr char kShardFileKind[] = "crank-ranking-shard";

// One file of a sharded checkpoint, named relative to the manifest's directory.
struct ShardFile {
  std::string name;  // a bare file name, e.g. "m.crank.ckpt.g3.shard1-of-4"
  int rank = 0;      // the rank that wrote it
  uint64_t bytes = 0;
  uint32_t crc32c = 0;  // its CheckpointFileInfo::records_crc32c (io/checkpoint.h)
};

// Rows [row_begin, row_end) of a table, held in files[file].
struct ShardRows {
  int file = 0;
  int64_t row_begin = 0;
  int64_t row_end = 0;
};

struct ShardedTable {
  std::string name;
  int64_t rows = 0;  // V
  // The records of the table in each of its shard files: "var/embedding/<name>" and its
  // optimizer slots ("opt/..."), each (row_end - row_begin, ...) in a shard.
  std::vector<std::string> records;
  std::vector<ShardRows> shards;  // in row order, covering [0, rows) exactly
  // The precision its "var/" record is stored in (its optimizer slots are fp32): a 16-bit
  // table's shards are 16-bit records (manifest format 2, which names it; format 1 is fp32).
  EmbeddingPrecision precision = EmbeddingPrecision::kFp32;
};

struct ShardedManifest {
  int64_t generation = 0;  // >= 1
  int64_t step = 0;        // the global step of the checkpoint
  int world_size = 1;      // ranks that wrote it
  int main_file = 0;       // index in files of the .main file
  std::vector<ShardFile> files;
  std::vector<ShardedTable> tables;

  std::string ToJson() const;
  // IoError naming `where` and the field when the text is not a valid manifest.
  static ShardedManifest FromJson(const std::string& text, const std::string& where);
  // IoError naming `where` when inconsistent (bad indices, rows not covered exactly, file
  // names with a directory part, ...).
  void Validate(const std::string& where) const;
};

// The file names of generation `generation` next to `manifest_path` (full paths).
std::string ShardedMainPath(const std::string& manifest_path, int64_t generation);
std::string ShardFilePath(const std::string& manifest_path, int64_t generation, int rank,
                          int world_size);

// Writes the manifest atomically at `path`. IoError on failure.
void WriteShardedManifest(const std::string& path, const ShardedManifest& manifest);
// True when `c` (a loaded container) is the manifest of a sharded checkpoint.
bool IsShardedManifest(const Checkpoint& c);
// The generation of the manifest at `path`, or 0 when there is no file there or it is not an
// intact manifest (a single-file checkpoint, say).
int64_t ShardedGenerationAt(const std::string& path);
// Removes the files of sharded checkpoints at `manifest_path` (any generation, and temporary
// files of killed writers) except those of generation `keep` (0: keep none). Returns how many
// were removed. Errors removing a file are ignored (it stays, unreferenced).
int RemoveStaleShards(const std::string& manifest_path, int64_t keep);

// Rows of one table record as stored: float values, or 16-bit ones of `precision`.
struct StoredRows {
  EmbeddingPrecision precision = EmbeddingPrecision::kFp32;
  Tensor values;      // when precision is kFp32
  Tensor16 values16;  // otherwise
  const std::vector<int64_t>& shape() const {
    return precision == EmbeddingPrecision::kFp32 ? values.shape() : values16.shape();
  }
  const void* data() const {
    return precision == EmbeddingPrecision::kFp32 ? static_cast<const void*>(values.data())
                                                  : values16.data();
  }
  void* data() {
    return precision == EmbeddingPrecision::kFp32 ? static_cast<void*>(values.data())
                                                  : values16.data();
  }
};

class ShardedCheckpoint {
 public:
  // `manifest` is the loaded container at `path` (IsShardedManifest). IoError when its
  // manifest record is invalid.
  ShardedCheckpoint(std::string path, const Checkpoint& manifest);
  // Loads the container at `path`; IoError when it is not a sharded manifest.
  static ShardedCheckpoint Open(const std::string& path);

  const ShardedManifest& manifest() const { return manifest_; }
  const std::string& path() const { return path_; }
  // One line: "sharded checkpoint of generation 3 (step 60) written by 4 ranks: 5 files".
  std::string Describe() const;

  // The .main file (configuration, mapping, dense part, training state), verified; kept.
  const Checkpoint& Main();
  // The index of the table named `name` in manifest().tables, or -1.
  int TableIndex(const std::string& name) const;
  // Rows [row_begin, row_end) of every record of table `table` (manifest().tables[table].records
  // -> (row_end - row_begin, ...)) as stored (the "var/" record in the table's precision),
  // out of the shard files that hold them; each file is read and verified once per call and
  // not kept. IoError when a record is missing, of another shape, or of another precision than
  // the manifest says.
  std::map<std::string, StoredRows> ReadTableRows(size_t table, int64_t row_begin, int64_t row_end);
  // Every record of the single-file model: the .main file's with model/kind "crank-ranking",
  // and each table's records whole.
  Checkpoint Assemble();
  // Writes Assemble()'s records as one checkpoint file at `out` (atomically) without holding
  // them all: a first pass reads the shard files one at a time for the records' shapes, then
  // the tables are written one shard file at a time (tables held whole by one file, grouped
  // by file) and one table at a time (tables split over files). Memory: the .main file, one
  // shard file and one table's records. IoError as for Assemble, or when `out` cannot be
  // written (the previous file at `out` is then intact).
  CheckpointFileInfo WriteSingleFile(const std::string& out);

 private:
  // Loads files[index], checks size, CRC and identity against the manifest.
  Checkpoint LoadFile(int index) const;
  // The .main file's records that are records of the single-file model, in file order: all
  // but its kind, its shard identity and table records.
  std::vector<const Checkpoint::Entry*> MainModelEntries();

  std::string path_;
  std::string dir_;
  ShardedManifest manifest_;
  std::optional<Checkpoint> main_;
};

}  // namespace crank

#endif  // CRANK_IO_SHARDED_CHECKPOINT_H_
