#include "crank/io/sharded_checkpoint.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <filesystem>
#include <functional>

#include "crank/base/error.h"
#include "crank/io/io_test_util.h"
#include "crank/io/model_checkpoint.h"

namespace crank {
namespace {

using io_test::ScratchDir;

// A (rows, cols) tensor whose element (i, j) is base + 10 i + j.
Tensor Rows(int64_t rows, int64_t cols, float base) {
  Tensor t({rows, cols});
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) t.data()[i * cols + j] = base + 10.0f * i + j;
  }
  return t;
}

// The .main file of generation `generation` by two ranks of the checkpoint at `path` (with a
// dense variable when `bias`): its entry in the manifest.
ShardFile WriteMainFile(const std::string& path, int64_t generation, bool bias) {
  CheckpointWriter main;
  main.AddString("model/kind", kShardFileKind);
  main.AddInt64s("shard/of", {generation, 0, 2});
  main.AddString("model/config", "model: {}\n");
  if (bias) main.AddTensor("var/top/bias", Rows(1, 1, 7.0f));
  const std::string file = ShardedMainPath(path, generation);
  const CheckpointFileInfo mi = main.Save(file);
  return {file.substr(file.find_last_of('/') + 1), 0, mi.bytes, mi.records_crc32c};
}

// Generation 2 of a checkpoint by two ranks at dir/m.ckpt: table "a" (5 rows, split [0, 3) on
// rank 0 and [3, 5) on rank 1) with an optimizer slot, table "b" (2 rows, whole on rank 1).
class ShardedCheckpointTest : public ::testing::Test {
 protected:
  void SetUp() override {
    path_ = dir_.File("m.ckpt");
    ShardedManifest m;
    m.generation = 2;
    m.step = 40;
    m.world_size = 2;
    m.main_file = 0;
    m.files.push_back(WriteMainFile(path_, 2, /*bias=*/true));
    for (int r = 0; r < 2; ++r) {
      CheckpointWriter w;
      w.AddString("model/kind", kShardFileKind);
      w.AddInt64s("shard/of", {2, r, 2});
      const int64_t rows = r == 0 ? 3 : 2, first = r == 0 ? 0 : 3;
      w.AddTensor("var/embedding/a", Rows(rows, 2, 100.0f * (r + 1) + 10.0f * first));
      w.AddTensor("opt/o/embedding/a/acc", Rows(rows, 2, -100.0f * (r + 1) - 10.0f * first));
      if (r == 1) w.AddTensor("var/embedding/b", Rows(2, 3, 1000.0f));
      const CheckpointFileInfo fi = w.Save(ShardFilePath(path_, 2, r, 2));
      m.files.push_back(
          {"m.ckpt.g2.shard" + std::to_string(r) + "-of-2", r, fi.bytes, fi.records_crc32c});
    }
    m.tables.push_back(
        {"a", 5, {"var/embedding/a", "opt/o/embedding/a/acc"}, {{1, 0, 3}, {2, 3, 5}}});
    m.tables.push_back({"b", 2, {"var/embedding/b"}, {{2, 0, 2}}});
    WriteShardedManifest(path_, m);
  }

  // The message of the IoError `f` throws ("" when it throws nothing).
  template <typename F>
  static std::string ErrorOf(F f) {
    try {
      f();
    } catch (const IoError& e) {
      return e.what();
    }
    return "";
  }

  ScratchDir dir_;
  std::string path_;
};

TEST_F(ShardedCheckpointTest, ManifestRoundTripsThroughTheFile) {
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  const ShardedManifest& m = c.manifest();
  EXPECT_EQ(m.generation, 2);
  EXPECT_EQ(m.step, 40);
  EXPECT_EQ(m.world_size, 2);
  ASSERT_EQ(m.files.size(), 3u);
  EXPECT_EQ(m.files[2].name, "m.ckpt.g2.shard1-of-2");
  EXPECT_EQ(m.files[2].rank, 1);
  EXPECT_EQ(m.files[2].bytes, std::filesystem::file_size(dir_.File("m.ckpt.g2.shard1-of-2")));
  ASSERT_EQ(m.tables.size(), 2u);
  EXPECT_EQ(m.tables[0].shards[1].row_begin, 3);
  EXPECT_EQ(m.tables[1].records, std::vector<std::string>{"var/embedding/b"});
  EXPECT_EQ(ShardedManifest::FromJson(m.ToJson(), "x").ToJson(), m.ToJson());
  // Without a 16-bit table: format 1, which older readers read, and no precisions.
  EXPECT_NE(m.ToJson().find("\"format\": 1,"), std::string::npos) << m.ToJson();
  EXPECT_EQ(m.ToJson().find("precision"), std::string::npos);
  EXPECT_EQ(m.tables[0].precision, EmbeddingPrecision::kFp32);
  EXPECT_EQ(ShardedGenerationAt(path_), 2);
  EXPECT_EQ(ShardedGenerationAt(dir_.File("none")), 0);
  EXPECT_EQ(ShardedGenerationAt(ShardedMainPath(path_, 2)), 0);  // a container, not a manifest
  EXPECT_NE(c.Describe().find("generation 2 (step 40) written by 2 ranks"), std::string::npos);
}

TEST_F(ShardedCheckpointTest, ReadsAnyRowRangeAcrossShards) {
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  // Rows [2, 5) of a: row 2 from rank 0's shard, rows 3 and 4 from rank 1's.
  std::map<std::string, StoredRows> rows = c.ReadTableRows(0, 2, 5);
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows.at("var/embedding/a").precision, EmbeddingPrecision::kFp32);
  const Tensor& v = rows.at("var/embedding/a").values;
  ASSERT_EQ(v.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(v.data()[0], 120.0f);  // rank 0's row 2: 100 + 10 * 2
  EXPECT_EQ(v.data()[1], 121.0f);
  EXPECT_EQ(v.data()[2], 230.0f);  // rank 1's first row (3): 200 + 30
  EXPECT_EQ(v.data()[5], 241.0f);
  EXPECT_EQ(rows.at("opt/o/embedding/a/acc").values.data()[2], -230.0f);
  EXPECT_EQ(c.TableIndex("b"), 1);
  EXPECT_EQ(c.TableIndex("c"), -1);
}

TEST_F(ShardedCheckpointTest, AssemblesTheSingleFileRecords) {
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  const Checkpoint whole = c.Assemble();
  EXPECT_EQ(whole.GetString("model/kind"), "crank-ranking");
  EXPECT_FALSE(whole.Has("shard/of"));
  EXPECT_EQ(whole.GetTensor("var/top/bias").data()[0], 7.0f);
  const Tensor& a = whole.GetTensor("var/embedding/a");
  ASSERT_EQ(a.shape(), (std::vector<int64_t>{5, 2}));
  for (int64_t i = 0; i < 5; ++i) {
    const float expected = (i < 3 ? 100.0f : 200.0f) + 10.0f * i;
    EXPECT_EQ(a.data()[2 * i], expected) << "row " << i;
  }
  EXPECT_EQ(whole.GetTensor("var/embedding/b").shape(), (std::vector<int64_t>{2, 3}));
}

TEST_F(ShardedCheckpointTest, WritesTheAssembledRecordsAsOneFile) {
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  const Checkpoint whole = c.Assemble();
  const std::string out = dir_.File("single.crank");
  c.WriteSingleFile(out);
  const Checkpoint written = Checkpoint::Load(out);
  std::vector<std::string> a = whole.Names(), b = written.Names();
  std::sort(a.begin(), a.end());
  std::sort(b.begin(), b.end());
  ASSERT_EQ(a, b);
  for (const std::string& name :
       {"var/top/bias", "var/embedding/a", "opt/o/embedding/a/acc", "var/embedding/b"}) {
    const Tensor &x = whole.GetTensor(name), &y = written.GetTensor(name);
    ASSERT_EQ(x.shape(), y.shape()) << name;
    for (int64_t i = 0; i < x.size(); ++i) EXPECT_EQ(x.data()[i], y.data()[i]) << name;
  }
  EXPECT_EQ(written.GetString("model/kind"), "crank-ranking");
  EXPECT_EQ(written.GetString("model/config"), "model: {}\n");
  // A damaged shard fails the write naming it and leaves no file.
  const std::string shard = dir_.File("m.ckpt.g2.shard1-of-2");
  std::filesystem::remove(shard);
  const std::string out2 = dir_.File("other.crank");
  EXPECT_NE(ErrorOf([&] { ShardedCheckpoint::Open(path_).WriteSingleFile(out2); }).find(shard),
            std::string::npos);
  EXPECT_FALSE(std::filesystem::exists(out2));
}

TEST_F(ShardedCheckpointTest, ADamagedShardIsRefusedNamingIt) {
  const std::string shard = ShardFilePath(path_, 2, 1, 2);
  io_test::XorByte(shard, 100, 0x01);
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  const std::string e = ErrorOf([&] { c.ReadTableRows(1, 0, 2); });
  EXPECT_NE(e.find("its file " + shard + " is damaged"), std::string::npos) << e;
  // Rows held only by the intact shard still read.
  EXPECT_EQ(c.ReadTableRows(0, 0, 3).at("var/embedding/a").values.data()[0], 100.0f);
}

TEST_F(ShardedCheckpointTest, AMissingOrReplacedShardIsRefusedNamingIt) {
  const std::string shard = ShardFilePath(path_, 2, 0, 2);
  // Another intact container of the same size in its place (another checkpoint's shard).
  CheckpointWriter w;
  w.AddString("model/kind", kShardFileKind);
  w.AddInt64s("shard/of", {2, 0, 2});
  w.AddTensor("var/embedding/a", Rows(3, 2, 5.0f));
  w.AddTensor("opt/o/embedding/a/acc", Rows(3, 2, 6.0f));
  w.Save(shard);
  ShardedCheckpoint c = ShardedCheckpoint::Open(path_);
  std::string e = ErrorOf([&] { c.ReadTableRows(0, 0, 1); });
  EXPECT_NE(e.find("its file " + shard + " is not the one it lists (CRC-32C"), std::string::npos)
      << e;
  std::filesystem::remove(shard);
  e = ErrorOf([&] { c.ReadTableRows(0, 0, 1); });
  EXPECT_NE(e.find("its file " + shard + " is missing"), std::string::npos) << e;
  e = ErrorOf([&] { ModelCheckpoint::Load(path_); });
  EXPECT_NE(e.find(shard), std::string::npos) << e;
}

TEST_F(ShardedCheckpointTest, AShardFileIsNotAModel) {
  const std::string e = ErrorOf([&] { ModelCheckpoint::Load(ShardFilePath(path_, 2, 1, 2)); });
  EXPECT_NE(e.find("is one file of a sharded checkpoint, not a model"), std::string::npos) << e;
}

TEST(ShardedManifest, InconsistentManifestsAreRefused) {
  ShardedManifest m;
  m.generation = 1;
  m.world_size = 2;
  m.files = {{"x.g1.main", 0, 10, 1}, {"x.g1.shard0-of-2", 0, 10, 2}};
  m.tables = {{"a", 10, {"var/embedding/a"}, {{1, 0, 4}, {1, 5, 10}}}};
  const auto error = [](const ShardedManifest& bad) {
    try {
      bad.Validate("m.ckpt");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  EXPECT_NE(error(m).find("table 'a': shard rows [5, 10) do not follow row 4"), std::string::npos);
  m.tables[0].shards[1].row_begin = 4;
  EXPECT_EQ(error(m), "");
  m.tables[0].rows = 12;
  EXPECT_NE(error(m).find("its shards cover 10 of 12 rows"), std::string::npos);
  m.tables[0].rows = 10;
  m.files[1].name = "../elsewhere";
  EXPECT_NE(error(m).find("a bare file name"), std::string::npos);
  m.files[1].name = "x";
  m.files[1].rank = 2;
  EXPECT_NE(error(m).find("of rank 2"), std::string::npos);
  try {
    ShardedManifest::FromJson(R"({"format": 1, "generation": 1})", "m.ckpt");
    ADD_FAILURE() << "no error";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("m.ckpt: the manifest has no field 'step'"),
              std::string::npos)
        << e.what();
  }
}

// A (rows, cols) bf16 tensor whose element (i, j) is the bf16 of base + 10 i + j (exact for the
// small integers used here).
Tensor16 Rows16(int64_t rows, int64_t cols, float base) {
  const Tensor t = Rows(rows, cols, base);
  Tensor16 h(t.shape());
  NarrowRowNearest(EmbeddingPrecision::kBf16, t.data(), t.size(), h.data());
  return h;
}

// Generation 1 by two ranks: table "a" (5 rows in bf16, [0, 3) on rank 0 and [3, 5) on rank 1)
// with an fp32 optimizer slot. `rank1_fp32`: rank 1 stores its rows in fp32 instead (a shard
// that contradicts the manifest).
std::string WriteSixteenBitCheckpoint(const ScratchDir& dir, bool rank1_fp32 = false) {
  const std::string path = dir.File("h.ckpt");
  ShardedManifest m;
  m.generation = 1;
  m.world_size = 2;
  m.files.push_back(WriteMainFile(path, 1, /*bias=*/false));
  for (int r = 0; r < 2; ++r) {
    const int64_t rows = r == 0 ? 3 : 2, first = r == 0 ? 0 : 3;
    const float base = 100.0f * (r + 1) + 10.0f * first;
    const Tensor16 values = Rows16(rows, 2, base);
    CheckpointWriter w;
    w.AddString("model/kind", kShardFileKind);
    w.AddInt64s("shard/of", {1, r, 2});
    if (r == 1 && rank1_fp32) {
      w.AddTensor("var/embedding/a", Rows(rows, 2, base));
    } else {
      w.AddTensor16("var/embedding/a", EmbeddingPrecision::kBf16, values);
    }
    w.AddTensor("opt/o/embedding/a/acc", Rows(rows, 2, -base));
    const CheckpointFileInfo fi = w.Save(ShardFilePath(path, 1, r, 2));
    m.files.push_back(
        {"h.ckpt.g1.shard" + std::to_string(r) + "-of-2", r, fi.bytes, fi.records_crc32c});
  }
  m.tables.push_back({"a",
                      5,
                      {"var/embedding/a", "opt/o/embedding/a/acc"},
                      {{1, 0, 3}, {2, 3, 5}},
                      EmbeddingPrecision::kBf16});
  WriteShardedManifest(path, m);
  return path;
}

std::vector<float> Widened(const Tensor16& h) {
  std::vector<float> out(static_cast<size_t>(h.size()));
  WidenRow(EmbeddingPrecision::kBf16, h.data(), h.size(), out.data());
  return out;
}

TEST(ShardedCheckpoint16, SixteenBitShardsReadAssembleAndWriteInTheirPrecision) {
  ScratchDir dir;
  const std::string path = WriteSixteenBitCheckpoint(dir);
  ShardedCheckpoint c = ShardedCheckpoint::Open(path);
  // The manifest is format 2 and names the precision.
  EXPECT_EQ(c.manifest().tables[0].precision, EmbeddingPrecision::kBf16);
  const std::string json = c.manifest().ToJson();
  EXPECT_NE(json.find("\"format\": 2,"), std::string::npos) << json;
  EXPECT_NE(json.find("\"precision\": \"bf16\""), std::string::npos) << json;
  EXPECT_EQ(ShardedManifest::FromJson(json, "x").ToJson(), json);
  // Rows [2, 5) across both shards, 16-bit; the optimizer slot fp32.
  std::map<std::string, StoredRows> rows = c.ReadTableRows(0, 2, 5);
  const StoredRows& v = rows.at("var/embedding/a");
  ASSERT_EQ(v.precision, EmbeddingPrecision::kBf16);
  ASSERT_EQ(v.shape(), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(Widened(v.values16), (std::vector<float>{120, 121, 230, 231, 240, 241}));
  EXPECT_EQ(rows.at("opt/o/embedding/a/acc").precision, EmbeddingPrecision::kFp32);
  EXPECT_EQ(rows.at("opt/o/embedding/a/acc").values.data()[2], -230.0f);
  // Assembled and written as one file: a bf16 record of the whole table (format version 2).
  const std::vector<float> whole = {100, 101, 110, 111, 120, 121, 230, 231, 240, 241};
  const Checkpoint assembled = c.Assemble();
  EmbeddingPrecision p = EmbeddingPrecision::kFp32;
  const Tensor16* a = assembled.FindTensor16("var/embedding/a", &p);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(p, EmbeddingPrecision::kBf16);
  EXPECT_EQ(Widened(*a), whole);
  EXPECT_EQ(assembled.format_version(), 2u);
  const std::string out = dir.File("single.crank");
  c.WriteSingleFile(out);
  const Checkpoint written = Checkpoint::Load(out);
  EXPECT_EQ(written.format_version(), 2u);
  a = written.FindTensor16("var/embedding/a", &p);
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(p, EmbeddingPrecision::kBf16);
  EXPECT_EQ(Widened(*a), whole);
  EXPECT_EQ(written.GetTensor("opt/o/embedding/a/acc").shape(), (std::vector<int64_t>{5, 2}));
}

TEST(ShardedCheckpoint16, AShardOfAnotherPrecisionThanTheManifestIsRefused) {
  ScratchDir dir;
  const std::string path = WriteSixteenBitCheckpoint(dir, /*rank1_fp32=*/true);
  ShardedCheckpoint c = ShardedCheckpoint::Open(path);
  EXPECT_EQ(c.ReadTableRows(0, 0, 3).at("var/embedding/a").precision, EmbeddingPrecision::kBf16);
  for (const auto& read : std::vector<std::function<void()>>{
           [&] { c.ReadTableRows(0, 0, 5); }, [&] { c.WriteSingleFile(dir.File("x.crank")); }}) {
    try {
      read();
      ADD_FAILURE() << "no error";
    } catch (const IoError& e) {
      EXPECT_NE(
          std::string(e.what()).find("record 'var/embedding/a' of " + ShardFilePath(path, 1, 1, 2) +
                                     " is fp32, the manifest says bf16"),
          std::string::npos)
          << e.what();
    }
  }
}

TEST(ShardedCheckpoint16, ManifestPrecisionsAndFormatsAreChecked) {
  const auto error = [](const std::string& json) {
    try {
      ShardedManifest::FromJson(json, "m.ckpt");
    } catch (const IoError& e) {
      return std::string(e.what());
    }
    return std::string();
  };
  const std::string head = R"({"generation": 1, "step": 0, "world_size": 1, "main_file": 0,
      "files": [{"name": "m.g1.main", "rank": 0, "bytes": 1, "crc32c": 1}], )";
  const std::string table = R"("tables": [{"name": "a", "rows": 1, "records": ["var/embedding/a"],
      "shards": [{"file": 0, "row_begin": 0, "row_end": 1}])";
  EXPECT_EQ(error(R"({"format": 1, )" + head.substr(1) + table + "}]}"), "");
  EXPECT_NE(error(R"({"format": 2, )" + head.substr(1) + table + "}]}")
                .find("the manifest has no field 'precision'"),
            std::string::npos);
  EXPECT_NE(error(R"({"format": 2, )" + head.substr(1) + table + R"(, "precision": "fp8"}]})")
                .find("table 'a': manifest field 'precision'"),
            std::string::npos);
  EXPECT_EQ(error(R"({"format": 2, )" + head.substr(1) + table + R"(, "precision": "fp16"}]})"),
            "");
  EXPECT_NE(error(R"({"format": 3, )" + head.substr(1) + table + "}]}")
                .find("manifest format 3; this crank reads 1 to 2: upgrade crank"),
            std::string::npos);
}

TEST(ShardedCheckpointFiles, StaleGenerationsAndTemporaryFilesAreRemoved) {
  ScratchDir dir;
  const std::string path = dir.File("m.ckpt");
  for (const char* name :
       {"m.ckpt", "m.ckpt.g1.main", "m.ckpt.g1.shard0-of-2", "m.ckpt.g2.main",
        "m.ckpt.g2.shard1-of-2", "m.ckpt.g2.shard0-of-2.tmp-123", "m.ckpt.g3.shard0-of-4",
        "m.ckpt.g2.other", "m.ckpt.best", "n.ckpt.g1.main"}) {
    io_test::WriteBytes(dir.File(name), "x");
  }
  EXPECT_EQ(RemoveStaleShards(path, 2), 4);
  EXPECT_EQ(dir.List(),
            (std::vector<std::string>{"m.ckpt", "m.ckpt.best", "m.ckpt.g2.main", "m.ckpt.g2.other",
                                      "m.ckpt.g2.shard1-of-2", "n.ckpt.g1.main"}));
  EXPECT_EQ(RemoveStaleShards(path, 0), 2);
}

}  // namespace
}  // namespace crank
