#include "crank/io/sharded_checkpoint.h"

#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <variant>

#include "crank/base/error.h"
#include "crank/io/atomic_file.h"
#include "crank/io/checkpoint_format.h"

namespace crank {
namespace {

using Json = nlohmann::json;

// Format 2 gives each table's precision; a manifest without a 16-bit table is written as
// format 1, which older readers read.
constexpr int kManifestFormat = 2;
constexpr int kManifestFormat16 = 2;  // the first format with table precisions
constexpr const char* kManifestRecord = "sharded/manifest";
constexpr const char* kShardOfRecord = "shard/of";

std::string BaseName(const std::string& path) {
  const size_t slash = path.find_last_of('/');
  return slash == std::string::npos ? path : path.substr(slash + 1);
}

// Reads field `key` of object `j`; IoError naming `where` and the field otherwise.
template <typename T>
T Field(const Json& j, const char* key, const std::string& where) {
  if (!j.is_object() || !j.contains(key)) {
    throw IoError(fmt::format("{}: the manifest has no field '{}'", where, key));
  }
  try {
    return j.at(key).get<T>();
  } catch (const Json::exception& e) {
    throw IoError(fmt::format("{}: manifest field '{}' has the wrong type ({})", where, key,
                              j.at(key).dump()));
  }
}

// Digits at s[*at, ...) -> value; false when there is none.
bool TakeNumber(const std::string& s, size_t* at, int64_t* value) {
  const size_t begin = *at;
  int64_t v = 0;
  while (*at < s.size() && s[*at] >= '0' && s[*at] <= '9' && *at - begin < 18) {
    v = v * 10 + (s[*at] - '0');
    ++*at;
  }
  *value = v;
  return *at > begin;
}

bool TakeLiteral(const std::string& s, size_t* at, std::string_view lit) {
  if (s.compare(*at, lit.size(), lit) != 0) return false;
  *at += lit.size();
  return true;
}

// For a file name "<base>.g<G>.main" or "<base>.g<G>.shard<R>-of-<N>", optionally followed by
// ".tmp-<pid>": its generation and whether it is a temporary file. False for other names.
bool ParseShardName(const std::string& base, const std::string& name, int64_t* generation,
                    bool* temporary) {
  size_t at = 0;
  int64_t r = 0, n = 0;
  if (!TakeLiteral(name, &at, base) || !TakeLiteral(name, &at, ".g") ||
      !TakeNumber(name, &at, generation)) {
    return false;
  }
  if (TakeLiteral(name, &at, ".main")) {
  } else if (!(TakeLiteral(name, &at, ".shard") && TakeNumber(name, &at, &r) &&
               TakeLiteral(name, &at, "-of-") && TakeNumber(name, &at, &n))) {
    return false;
  }
  *temporary = false;
  if (at == name.size()) return true;
  int64_t pid = 0;
  if (!TakeLiteral(name, &at, ".tmp-") || !TakeNumber(name, &at, &pid) || at != name.size()) {
    return false;
  }
  *temporary = true;
  return true;
}

// The record `record` of table `t` in `file`, which holds the table's rows `s`, as stored:
// IoError (naming the manifest at `path` and the file) when it is missing, not one row per row
// of the shard, or of another precision than the manifest says.
struct StoredView {
  EmbeddingPrecision precision = EmbeddingPrecision::kFp32;
  const std::vector<int64_t>* shape = nullptr;
  const void* data = nullptr;
};
StoredView ViewTableRecord(const std::string& path, const ShardedTable& t, const ShardRows& s,
                           const Checkpoint& file, const std::string& record) {
  const EmbeddingPrecision expected =
      record.rfind("var/", 0) == 0 ? t.precision : EmbeddingPrecision::kFp32;
  StoredView v;
  if (const Tensor16* half = file.FindTensor16(record, &v.precision)) {
    v.shape = &half->shape();
    v.data = half->data();
  } else {
    v.precision = EmbeddingPrecision::kFp32;
    const Tensor& full = file.GetTensor(record);
    v.shape = &full.shape();
    v.data = full.data();
  }
  if (v.precision != expected) {
    throw IoError(fmt::format(
        "sharded checkpoint {}: record '{}' of {} is {}, the manifest says {}", path, record,
        file.path(), EmbeddingPrecisionName(v.precision), EmbeddingPrecisionName(expected)));
  }
  if (v.shape->empty() || (*v.shape)[0] != s.row_end - s.row_begin) {
    throw IoError(
        fmt::format("sharded checkpoint {}: record '{}' of {} has shape {}, expected {} rows "
                    "(table '{}' rows [{}, {}))",
                    path, record, file.path(), ShapeToString(*v.shape), s.row_end - s.row_begin,
                    t.name, s.row_begin, s.row_end));
  }
  return v;
}

}  // namespace

std::string ShardedManifest::ToJson() const {
  bool any16 = false;
  for (const ShardedTable& t : tables) any16 = any16 || t.precision != EmbeddingPrecision::kFp32;
  Json j;
  j["format"] = any16 ? kManifestFormat16 : 1;
  j["generation"] = generation;
  j["step"] = step;
  j["world_size"] = world_size;
  j["main_file"] = main_file;
  j["files"] = Json::array();
  for (const ShardFile& f : files) {
    j["files"].push_back(
        {{"name", f.name}, {"rank", f.rank}, {"bytes", f.bytes}, {"crc32c", f.crc32c}});
  }
  j["tables"] = Json::array();
  for (const ShardedTable& t : tables) {
    Json shards = Json::array();
    for (const ShardRows& s : t.shards) {
      shards.push_back({{"file", s.file}, {"row_begin", s.row_begin}, {"row_end", s.row_end}});
    }
    Json table = {{"name", t.name}, {"rows", t.rows}, {"records", t.records}, {"shards", shards}};
    if (any16) table["precision"] = std::string(EmbeddingPrecisionName(t.precision));
    j["tables"].push_back(std::move(table));
  }
  return j.dump(1);
}

ShardedManifest ShardedManifest::FromJson(const std::string& text, const std::string& where) {
  Json j;
  try {
    j = Json::parse(text);
  } catch (const Json::exception& e) {
    throw IoError(fmt::format("{}: the manifest is not valid JSON: {}", where, e.what()));
  }
  const int format = Field<int>(j, "format", where);
  if (format < 1 || format > kManifestFormat) {
    throw IoError(fmt::format("{}: manifest format {}; this crank reads 1 to {}: upgrade crank",
                              where, format, kManifestFormat));
  }
  ShardedManifest m;
  m.generation = Field<int64_t>(j, "generation", where);
  m.step = Field<int64_t>(j, "step", where);
  m.world_size = Field<int>(j, "world_size", where);
  m.main_file = Field<int>(j, "main_file", where);
  for (const Json& f : Field<Json>(j, "files", where)) {
    ShardFile s;
    s.name = Field<std::string>(f, "name", where);
    s.rank = Field<int>(f, "rank", where);
    s.bytes = Field<uint64_t>(f, "bytes", where);
    s.crc32c = Field<uint32_t>(f, "crc32c", where);
    m.files.push_back(std::move(s));
  }
  for (const Json& t : Field<Json>(j, "tables", where)) {
    ShardedTable table;
    table.name = Field<std::string>(t, "name", where);
    table.rows = Field<int64_t>(t, "rows", where);
    table.records = Field<std::vector<std::string>>(t, "records", where);
    if (format >= kManifestFormat16) {
      const std::string precision = Field<std::string>(t, "precision", where);
      try {
        table.precision = ParseEmbeddingPrecision(precision);
      } catch (const InvalidArgument& e) {
        throw IoError(fmt::format("{}: table '{}': manifest field 'precision': {}", where,
                                  table.name, e.what()));
      }
    }
    for (const Json& s : Field<Json>(t, "shards", where)) {
      table.shards.push_back({Field<int>(s, "file", where), Field<int64_t>(s, "row_begin", where),
                              Field<int64_t>(s, "row_end", where)});
    }
    m.tables.push_back(std::move(table));
  }
  m.Validate(where);
  return m;
}

void ShardedManifest::Validate(const std::string& where) const {
  const auto bad = [&](const std::string& what) {
    throw IoError(fmt::format("{}: invalid manifest: {}", where, what));
  };
  if (generation < 1) bad(fmt::format("generation {}", generation));
  if (world_size < 1) bad(fmt::format("world_size {}", world_size));
  const int n = static_cast<int>(files.size());
  if (main_file < 0 || main_file >= n) bad(fmt::format("main_file {} of {} files", main_file, n));
  for (const ShardFile& f : files) {
    if (f.name.empty() || f.name.find('/') != std::string::npos || f.name == "." ||
        f.name == "..") {
      bad(fmt::format("file name '{}' (a bare file name beside the manifest expected)", f.name));
    }
    if (f.rank < 0 || f.rank >= world_size) bad(fmt::format("file {} of rank {}", f.name, f.rank));
  }
  for (const ShardedTable& t : tables) {
    if (t.records.empty()) bad(fmt::format("table '{}' has no records", t.name));
    int64_t next = 0;
    for (const ShardRows& s : t.shards) {
      if (s.file < 0 || s.file >= n) bad(fmt::format("table '{}': file {}", t.name, s.file));
      if (s.row_begin != next || s.row_end <= s.row_begin) {
        bad(fmt::format("table '{}': shard rows [{}, {}) do not follow row {}", t.name, s.row_begin,
                        s.row_end, next));
      }
      next = s.row_end;
    }
    if (next != t.rows) {
      bad(fmt::format("table '{}': its shards cover {} of {} rows", t.name, next, t.rows));
    }
  }
}

std::string ShardedMainPath(const std::string& manifest_path, int64_t generation) {
  return fmt::format("{}.g{}.main", manifest_path, generation);
}

std::string ShardFilePath(const std::string& manifest_path, int64_t generation, int rank,
                          int world_size) {
  return fmt::format("{}.g{}.shard{}-of-{}", manifest_path, generation, rank, world_size);
}

void WriteShardedManifest(const std::string& path, const ShardedManifest& manifest) {
  manifest.Validate(path);
  CheckpointWriter w;
  w.AddString("model/kind", kShardedManifestKind);
  w.AddString(kManifestRecord, manifest.ToJson());
  w.Save(path);
}

bool IsShardedManifest(const Checkpoint& c) {
  return c.Has("model/kind") && c.Has(kManifestRecord) &&
         c.GetString("model/kind") == kShardedManifestKind;
}

int64_t ShardedGenerationAt(const std::string& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return 0;
  // A manifest is a few kilobytes; a larger file is a single-file checkpoint.
  if (std::filesystem::file_size(path, ec) > (int64_t{64} << 20) || ec) return 0;
  try {
    const Checkpoint c = Checkpoint::Load(path);
    if (!IsShardedManifest(c)) return 0;
    return ShardedManifest::FromJson(c.GetString(kManifestRecord), path).generation;
  } catch (const IoError&) {
    return 0;
  }
}

int RemoveStaleShards(const std::string& manifest_path, int64_t keep) {
  const std::string dir = ParentDirectory(manifest_path), base = BaseName(manifest_path);
  std::error_code ec;
  std::vector<std::filesystem::path> stale;
  for (auto it = std::filesystem::directory_iterator(dir, ec);
       !ec && it != std::filesystem::directory_iterator(); it.increment(ec)) {
    int64_t generation = 0;
    bool temporary = false;
    if (!ParseShardName(base, it->path().filename().string(), &generation, &temporary)) continue;
    if (temporary || generation != keep) stale.push_back(it->path());
  }
  int removed = 0;
  for (const auto& p : stale) removed += std::filesystem::remove(p, ec) ? 1 : 0;
  return removed;
}

ShardedCheckpoint::ShardedCheckpoint(std::string path, const Checkpoint& manifest)
    : path_(std::move(path)), dir_(ParentDirectory(path_)) {
  if (!IsShardedManifest(manifest)) {
    throw IoError(fmt::format("{} is not the manifest of a sharded checkpoint", path_));
  }
  manifest_ = ShardedManifest::FromJson(manifest.GetString(kManifestRecord), path_);
}

ShardedCheckpoint ShardedCheckpoint::Open(const std::string& path) {
  return ShardedCheckpoint(path, Checkpoint::Load(path));
}

std::string ShardedCheckpoint::Describe() const {
  return fmt::format("sharded checkpoint of generation {} (step {}) written by {} ranks: {} files",
                     manifest_.generation, manifest_.step, manifest_.world_size,
                     manifest_.files.size());
}

int ShardedCheckpoint::TableIndex(const std::string& name) const {
  for (size_t t = 0; t < manifest_.tables.size(); ++t) {
    if (manifest_.tables[t].name == name) return static_cast<int>(t);
  }
  return -1;
}

Checkpoint ShardedCheckpoint::LoadFile(int index) const {
  const ShardFile& f = manifest_.files[static_cast<size_t>(index)];
  const std::string file = dir_ + "/" + f.name;
  struct stat st;
  if (::stat(file.c_str(), &st) != 0) {
    throw IoError(fmt::format("sharded checkpoint {}: its file {} is missing ({})", path_, file,
                              std::strerror(errno)));
  }
  if (static_cast<uint64_t>(st.st_size) != f.bytes) {
    throw IoError(fmt::format(
        "sharded checkpoint {}: its file {} is damaged or not the one it lists ({} bytes, the "
        "manifest says {})",
        path_, file, static_cast<uint64_t>(st.st_size), f.bytes));
  }
  std::optional<Checkpoint> c;
  try {
    c = Checkpoint::Load(file);
  } catch (const IoError& e) {
    throw IoError(
        fmt::format("sharded checkpoint {}: its file {} is damaged: {}", path_, file, e.what()));
  }
  if (c->file_info().records_crc32c != f.crc32c) {
    throw IoError(fmt::format(
        "sharded checkpoint {}: its file {} is not the one it lists (CRC-32C {:08x}, the "
        "manifest says {:08x})",
        path_, file, c->file_info().records_crc32c, f.crc32c));
  }
  const std::vector<int64_t> expected = {manifest_.generation, f.rank, manifest_.world_size};
  if (!c->Has("model/kind") || c->GetString("model/kind") != kShardFileKind ||
      !c->Has(kShardOfRecord) || c->GetInt64s(kShardOfRecord) != expected) {
    throw IoError(fmt::format(
        "sharded checkpoint {}: its file {} is not a shard of generation {} by rank {} of {}",
        path_, file, manifest_.generation, f.rank, manifest_.world_size));
  }
  return std::move(*c);
}

const Checkpoint& ShardedCheckpoint::Main() {
  if (!main_) main_ = LoadFile(manifest_.main_file);
  return *main_;
}

std::map<std::string, StoredRows> ShardedCheckpoint::ReadTableRows(size_t table, int64_t row_begin,
                                                                   int64_t row_end) {
  CRANK_REQUIRE(table < manifest_.tables.size(), "ReadTableRows: table {} of {}", table,
                manifest_.tables.size());
  const ShardedTable& t = manifest_.tables[table];
  CRANK_REQUIRE(0 <= row_begin && row_begin < row_end && row_end <= t.rows,
                "ReadTableRows: rows [{}, {}) of table '{}' with {} rows", row_begin, row_end,
                t.name, t.rows);
  std::map<std::string, StoredRows> out;
  for (const ShardRows& s : t.shards) {
    const int64_t lo = std::max(row_begin, s.row_begin), hi = std::min(row_end, s.row_end);
    if (lo >= hi) continue;
    const Checkpoint file = LoadFile(s.file);
    for (const std::string& record : t.records) {
      const StoredView src = ViewTableRecord(path_, t, s, file, record);
      std::vector<int64_t> shape = *src.shape;
      shape[0] = row_end - row_begin;
      const auto [it, first] = out.try_emplace(record);
      StoredRows& dst = it->second;
      if (first) {
        dst.precision = src.precision;
        if (src.precision == EmbeddingPrecision::kFp32) {
          dst.values.Resize(shape);
        } else {
          dst.values16.Resize(shape);
        }
      } else if (dst.shape() != shape) {
        throw IoError(fmt::format(
            "sharded checkpoint {}: record '{}' has shape {} in {} and "
            "rows of shape {} elsewhere",
            path_, record, ShapeToString(*src.shape), file.path(), ShapeToString(dst.shape())));
      }
      int64_t per_row = 1;
      for (size_t d = 1; d < shape.size(); ++d) per_row *= shape[d];
      const int64_t bytes = EmbeddingPrecisionBytes(src.precision) * per_row;
      std::memcpy(static_cast<char*>(dst.data()) + (lo - row_begin) * bytes,
                  static_cast<const char*>(src.data) + (lo - s.row_begin) * bytes,
                  static_cast<size_t>((hi - lo) * bytes));
    }
  }
  return out;
}

std::vector<const Checkpoint::Entry*> ShardedCheckpoint::MainModelEntries() {
  std::set<std::string> table_records;
  for (const ShardedTable& t : manifest_.tables) {
    table_records.insert(t.records.begin(), t.records.end());
  }
  std::vector<const Checkpoint::Entry*> out;
  for (const Checkpoint::Entry& e : Main().entries_) {
    if (e.name != "model/kind" && e.name != kShardOfRecord && !table_records.count(e.name)) {
      out.push_back(&e);
    }
  }
  return out;
}

Checkpoint ShardedCheckpoint::Assemble() {
  const Checkpoint& main = Main();
  Checkpoint c;
  c.path_ = path_;
  c.format_version_ = main.format_version();
  c.file_info_ = main.file_info();
  c.Add("model/kind", std::string("crank-ranking"));
  for (const Checkpoint::Entry* e : MainModelEntries()) c.Add(e->name, e->value);
  for (size_t t = 0; t < manifest_.tables.size(); ++t) {
    for (auto& [name, rows] : ReadTableRows(t, 0, manifest_.tables[t].rows)) {
      if (rows.precision == EmbeddingPrecision::kFp32) {
        c.Add(name, std::move(rows.values));
      } else {
        c.Add(name, Checkpoint::Table16{rows.precision, std::move(rows.values16)});
        c.format_version_ = std::max(c.format_version_, checkpoint_format::kFormatVersion16);
      }
    }
  }
  return c;
}

CheckpointFileInfo ShardedCheckpoint::WriteSingleFile(const std::string& out) {
  CheckpointWriter w;
  w.AddString("model/kind", std::string("crank-ranking"));
  for (const Checkpoint::Entry* e : MainModelEntries()) {
    if (const auto* t = std::get_if<Tensor>(&e->value)) {
      w.AddTensor(e->name, *t);  // main_ outlives the writer
    } else if (const auto* v = std::get_if<std::vector<int64_t>>(&e->value)) {
      w.AddInt64s(e->name, *v);
    } else if (const auto* h = std::get_if<Checkpoint::Table16>(&e->value)) {
      w.AddTensor16(e->name, h->precision, h->values);
    } else {
      w.AddString(e->name, std::get<std::string>(e->value));
    }
  }

  // The order of the tables: those held whole by one file, grouped by file, then the split
  // ones; and which tables each file holds whole.
  const size_t n_tables = manifest_.tables.size();
  std::map<int, std::vector<size_t>> whole_tables_of_file;
  std::vector<size_t> split_tables;
  for (size_t t = 0; t < n_tables; ++t) {
    const ShardedTable& table = manifest_.tables[t];
    if (table.shards.size() == 1) {
      whole_tables_of_file[table.shards[0].file].push_back(t);
    } else {
      split_tables.push_back(t);
    }
  }
  std::vector<size_t> order;
  for (const auto& [file, tables] : whole_tables_of_file) {
    order.insert(order.end(), tables.begin(), tables.end());
  }
  order.insert(order.end(), split_tables.begin(), split_tables.end());

  // Pass 1: the shape of every table record, (rows of the table, the shard's row shape...),
  // one file at a time; every shard must agree on the row shape.
  std::map<int, std::vector<std::pair<size_t, const ShardRows*>>> shards_of_file;
  for (size_t t = 0; t < n_tables; ++t) {
    for (const ShardRows& s : manifest_.tables[t].shards) shards_of_file[s.file].push_back({t, &s});
  }
  // The precision of each record is the manifest's (ViewTableRecord checks it).
  std::map<std::string, std::vector<int64_t>> shapes;
  std::map<std::string, EmbeddingPrecision> precisions;
  for (const auto& [index, shards] : shards_of_file) {
    const Checkpoint file = LoadFile(index);
    for (const auto& [t, s] : shards) {
      const ShardedTable& table = manifest_.tables[t];
      for (const std::string& record : table.records) {
        const StoredView src = ViewTableRecord(path_, table, *s, file, record);
        std::vector<int64_t> shape = *src.shape;
        shape[0] = table.rows;
        const auto [it, inserted] = shapes.emplace(record, shape);
        if (!inserted && it->second != shape) {
          throw IoError(fmt::format(
              "sharded checkpoint {}: record '{}' has rows of shape {} in {} and of another "
              "shape elsewhere",
              path_, record, ShapeToString(*src.shape), file.path()));
        }
        precisions[record] = src.precision;
      }
    }
  }

  // Pass 2, as the writer reaches each table record: the file that holds the table whole
  // (loaded once for all its tables) or the split table's rows (read once for its records).
  struct Source {
    int file = -1;
    std::optional<Checkpoint> loaded;
    size_t split_table = SIZE_MAX;
    std::map<std::string, StoredRows> rows;
  } source;
  // Makes the source of table t's records current.
  const auto prepare = [this, &source](size_t t) {
    const ShardedTable& table = manifest_.tables[t];
    if (table.shards.size() == 1) {
      const int f = table.shards[0].file;
      if (source.file != f) {
        source.loaded.reset();  // one file in memory at a time
        source.rows.clear();
        source.split_table = SIZE_MAX;
        source.loaded = LoadFile(f);
        source.file = f;
      }
    } else if (source.split_table != t) {
      source.loaded.reset();
      source.file = -1;
      source.rows.clear();
      source.rows = ReadTableRows(t, 0, table.rows);
      source.split_table = t;
    }
  };
  for (const size_t t : order) {
    const ShardedTable& table = manifest_.tables[t];
    for (const std::string& record : table.records) {
      const EmbeddingPrecision precision = precisions.at(record);
      if (precision == EmbeddingPrecision::kFp32) {
        w.AddTensor(record, shapes.at(record), [&source, &prepare, t, &record]() -> const Tensor& {
          prepare(t);
          return source.loaded ? source.loaded->GetTensor(record) : source.rows.at(record).values;
        });
        continue;
      }
      w.AddTensor16(record, precision, shapes.at(record),
                    [&source, &prepare, t, &record]() -> const Tensor16& {
                      prepare(t);
                      if (!source.loaded) return source.rows.at(record).values16;
                      EmbeddingPrecision stored;
                      const Tensor16* half = source.loaded->FindTensor16(record, &stored);
                      CRANK_CHECK(half != nullptr, "record '{}' is no longer 16-bit", record);
                      return *half;
                    });
    }
  }
  return w.Save(out);
}

}  // namespace crank
