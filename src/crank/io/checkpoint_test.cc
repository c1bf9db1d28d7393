#include "crank/io/checkpoint.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/io/checkpoint_format.h"
#include "crank/io/crc32c.h"
#include "crank/io/io_test_util.h"

namespace crank {
namespace {

namespace cf = checkpoint_format;
using io_test::ReadBytes;
using io_test::ScratchDir;
using io_test::WriteBytes;
using io_test::XorByte;

// --- Helpers -----------------------------------------------------------------------------------

float FromBits(uint32_t bits) { return std::bit_cast<float>(bits); }

std::vector<uint32_t> Bits(const Tensor& t) {
  std::vector<uint32_t> out;
  for (int64_t i = 0; i < t.size(); ++i) out.push_back(std::bit_cast<uint32_t>(t[i]));
  return out;
}

std::string U32(uint32_t v) { return std::string(reinterpret_cast<const char*>(&v), 4); }
std::string U64(uint64_t v) { return std::string(reinterpret_cast<const char*>(&v), 8); }
uint32_t Crc(const std::string& s) { return Crc32c(s.data(), s.size()); }

// Builds a record byte for byte from the documented layout, with valid checksums.
std::string ForgeRecord(uint32_t kind, const std::string& name, const std::vector<int64_t>& dims,
                        uint64_t payload_length, const std::string& payload,
                        std::optional<uint32_t> name_length = std::nullopt) {
  std::string h = U32(kind) + U32(name_length.value_or(static_cast<uint32_t>(name.size()))) +
                  U32(static_cast<uint32_t>(dims.size())) + name;
  for (int64_t d : dims) h += U64(static_cast<uint64_t>(d));
  h += U64(payload_length);
  h += U32(Crc(h));
  return h + payload + U32(Crc(payload));
}

// Wraps records in a header and footer with valid checksums.
std::string ForgeFile(const std::string& records, uint64_t record_count, uint32_t version = 1,
                      std::optional<uint64_t> records_length = std::nullopt) {
  std::string f = std::string(cf::kMagic, 8) + U32(version) + U32(0) + U64(record_count) +
                  U64(records_length.value_or(records.size())) + U32(0);
  f += U32(Crc(f));
  f += records;
  f += U64(f.size() + cf::kFooterSize);
  f += U32(Crc(f));
  return f + "CEND";
}

std::string FloatBytes(const std::vector<float>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(float));
}

// Expects Load to throw IoError whose message equals `expected`.
void ExpectLoadError(const std::string& path, const std::string& expected) {
  try {
    Checkpoint::Load(path);
    ADD_FAILURE() << "expected IoError: " << expected;
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), expected);
  }
}

// A small checkpoint with every record kind.
CheckpointWriter SmallWriter() {
  CheckpointWriter w;
  w.AddTensor("w", Tensor({2, 3}, {1, 2, 3, 4, 5, 6}));
  w.AddInt64s("step", {42, -1});
  w.AddString("config", "model:\n  dims: 8\n");
  return w;
}

// --- Round trips -------------------------------------------------------------------------------

TEST(Checkpoint, RoundTripsAllRecordKindsBitForBit) {
  ScratchDir dir;
  const std::string path = dir.File("model.ckpt");
  const std::vector<uint32_t> special_bits = {
      0x7FC00000u,  // quiet NaN
      0x7FC12345u,  // quiet NaN with payload
      0xFFC00001u,  // negative NaN with payload
      0x7F800001u,  // signalling NaN
      0x80000000u,  // -0
      0x00000001u,  // smallest denormal
      0x807FFFFFu,  // largest negative denormal
      0x7F800000u,  // +inf
      0xFF800000u,  // -inf
      0x7F7FFFFFu,  // largest finite
      0x3F800000u,  // 1
      0x00800000u,  // smallest normal
  };
  std::vector<float> special;
  for (uint32_t b : special_bits) special.push_back(FromBits(b));
  Tensor specials({3, 4}, special);
  Tensor big({64, 33});
  for (int64_t i = 0; i < big.size(); ++i) big[i] = std::sin(static_cast<float>(i)) * 1e-3f;
  const std::vector<int64_t> ints = {0,
                                     1,
                                     -1,
                                     std::numeric_limits<int64_t>::min(),
                                     std::numeric_limits<int64_t>::max(),
                                     static_cast<int64_t>(0xDEADBEEFCAFEF00Dull)};
  const std::string binary("a\0b\xff\n\x01", 6);

  CheckpointWriter w;
  w.AddTensor("specials", specials);
  w.AddTensor("big", big);
  w.AddTensor("scalar", Tensor(std::vector<int64_t>{}, {2.5f}));
  w.AddTensor("empty", Tensor({0, 7}));
  w.AddTensor("rank4", Tensor({1, 2, 1, 2}, {1, 2, 3, 4}));
  w.AddInt64s("ints", ints);
  w.AddInt64s("no_ints", {});
  w.AddString("binary", binary);
  w.AddString("empty_string", "");
  EXPECT_EQ(w.size(), 9u);
  w.Save(path);

  const Checkpoint c = Checkpoint::Load(path);
  EXPECT_EQ(c.format_version(), 1u);
  EXPECT_EQ(c.path(), path);
  EXPECT_EQ(c.Names(), (std::vector<std::string>{"specials", "big", "scalar", "empty", "rank4",
                                                 "ints", "no_ints", "binary", "empty_string"}));
  EXPECT_EQ(c.GetTensor("specials").shape(), (std::vector<int64_t>{3, 4}));
  EXPECT_EQ(Bits(c.GetTensor("specials")), special_bits);
  EXPECT_EQ(c.GetTensor("big").shape(), big.shape());
  EXPECT_EQ(Bits(c.GetTensor("big")), Bits(big));
  EXPECT_EQ(c.GetTensor("scalar").rank(), 0);
  EXPECT_EQ(c.GetTensor("scalar")[0], 2.5f);
  EXPECT_EQ(c.GetTensor("empty").shape(), (std::vector<int64_t>{0, 7}));
  EXPECT_EQ(c.GetTensor("rank4").shape(), (std::vector<int64_t>{1, 2, 1, 2}));
  EXPECT_EQ(c.GetTensor("rank4").ToVector(), (std::vector<float>{1, 2, 3, 4}));
  EXPECT_EQ(c.GetInt64s("ints"), ints);
  EXPECT_EQ(static_cast<uint64_t>(c.GetInt64s("ints")[5]), 0xDEADBEEFCAFEF00Dull);
  EXPECT_TRUE(c.GetInt64s("no_ints").empty());
  EXPECT_EQ(c.GetString("binary"), binary);
  EXPECT_EQ(c.GetString("empty_string"), "");
  EXPECT_TRUE(c.Has("big"));
  EXPECT_FALSE(c.Has("bigger"));
}

TEST(Checkpoint, EmptyCheckpointRoundTrips) {
  ScratchDir dir;
  CheckpointWriter().Save(dir.File("empty"));
  EXPECT_EQ(ReadBytes(dir.File("empty")).size(), cf::kMinFileSize);
  EXPECT_TRUE(Checkpoint::Load(dir.File("empty")).Names().empty());
}

TEST(Checkpoint, WriterBytesMatchDocumentedLayout) {
  ScratchDir dir;
  const std::string path = dir.File("layout");
  SmallWriter().Save(path);
  int64_t step[2] = {42, -1};
  const std::string records =
      ForgeRecord(1, "w", {2, 3}, 24, FloatBytes({1, 2, 3, 4, 5, 6})) +
      ForgeRecord(2, "step", {2}, 16, std::string(reinterpret_cast<const char*>(step), 16)) +
      ForgeRecord(3, "config", {17}, 17, "model:\n  dims: 8\n");
  const std::string expected = ForgeFile(records, 3);
  const std::string actual = ReadBytes(path);
  EXPECT_EQ(actual.substr(0, 12), std::string("CRANKCKP\x01\0\0\0", 12));
  EXPECT_EQ(actual.substr(actual.size() - 4), "CEND");
  EXPECT_EQ(actual, expected);
}

TEST(Checkpoint, ReferencedTensorIsReadAtSaveTime) {
  ScratchDir dir;
  Tensor t({2}, {1, 2});
  CheckpointWriter w;
  w.AddTensor("t", t);
  t[1] = 7;  // The writer references t: the saved value is the one at Save time.
  w.Save(dir.File("a"));
  EXPECT_EQ(Checkpoint::Load(dir.File("a")).GetTensor("t").ToVector(), (std::vector<float>{1, 7}));
}

TEST(Checkpoint, ProducedTensorIsMadeWhenItsRecordIsWritten) {
  io_test::ScratchDir dir;
  const std::string path = dir.File("p.ckpt");
  std::vector<std::string> calls;
  Tensor first({2, 2}, {1, 2, 3, 4}), second({3}, {5, 6, 7});
  CheckpointWriter w;
  w.AddTensor("a", {2, 2}, [&]() -> const Tensor& {
    calls.push_back("a");
    return first;
  });
  w.AddString("s", "between");
  w.AddTensor("b", {3}, [&]() -> const Tensor& {
    calls.push_back("b");
    return second;
  });
  EXPECT_TRUE(calls.empty());  // nothing is produced before Save
  w.Save(path);
  EXPECT_EQ(calls, (std::vector<std::string>{"a", "b"}));
  const Checkpoint c = Checkpoint::Load(path);
  EXPECT_EQ(c.GetTensor("a").shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(c.GetTensor("a").data()[3], 4.0f);
  EXPECT_EQ(c.GetTensor("b").data()[2], 7.0f);
  EXPECT_EQ(c.Names(), (std::vector<std::string>{"a", "s", "b"}));
  // A producer that throws leaves the previous file.
  CheckpointWriter bad;
  bad.AddTensor("a", {1}, []() -> const Tensor& { throw IoError("cannot read the source"); });
  EXPECT_THROW(bad.Save(path), IoError);
  EXPECT_EQ(Checkpoint::Load(path).GetTensor("b").size(), 3);
}

TEST(Checkpoint, SavingOverExistingFileReplacesIt) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  CheckpointWriter w;
  w.AddInt64s("step", {43});
  w.Save(path);
  const Checkpoint c = Checkpoint::Load(path);
  EXPECT_EQ(c.Names(), std::vector<std::string>{"step"});
  EXPECT_EQ(c.GetInt64s("step"), std::vector<int64_t>{43});
  EXPECT_EQ(dir.List(), std::vector<std::string>{"ckpt"});
}

// --- Writer misuse -----------------------------------------------------------------------------

TEST(CheckpointWriter, RejectsDuplicateNamesAcrossKinds) {
  CheckpointWriter w;
  w.AddTensor("a", Tensor({1}));
  EXPECT_THROW(w.AddTensor("a", Tensor({2})), InvalidArgument);
  EXPECT_THROW(w.AddInt64s("a", {1}), InvalidArgument);
  EXPECT_THROW(w.AddString("a", "x"), InvalidArgument);
  EXPECT_EQ(w.size(), 1u);
}

TEST(CheckpointWriter, RejectsEmptyAndOverlongNames) {
  CheckpointWriter w;
  EXPECT_THROW(w.AddInt64s("", {1}), InvalidArgument);
  EXPECT_THROW(w.AddInt64s(std::string(cf::kMaxNameLength + 1, 'n'), {1}), InvalidArgument);
  w.AddInt64s(std::string(cf::kMaxNameLength, 'n'), {1});
  EXPECT_EQ(w.size(), 1u);
}

TEST(CheckpointWriter, DirectoryAsPathIsIoError) {
  ScratchDir dir;
  ASSERT_EQ(::mkdir(dir.File("d").c_str(), 0755), 0);
  EXPECT_THROW(SmallWriter().Save(dir.File("d")), IoError);
  EXPECT_THROW(SmallWriter().Save(dir.File("d") + "/"), IoError);
  EXPECT_EQ(dir.List(), std::vector<std::string>{"d"});
}

TEST(CheckpointWriter, MissingParentDirectoryIsIoError) {
  ScratchDir dir;
  EXPECT_THROW(SmallWriter().Save(dir.File("no/such/dir/ckpt")), IoError);
  EXPECT_TRUE(dir.List().empty());
}

// --- Lookup errors -----------------------------------------------------------------------------

TEST(Checkpoint, MissingOrMistypedRecordNamesCheckpointAndRecord) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  const Checkpoint c = Checkpoint::Load(path);
  try {
    c.GetTensor("nope");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint " + path + " has no tensor 'nope'");
  }
  try {
    c.GetTensor("step");
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()), "checkpoint " + path +
                                         " has no tensor 'step' (the record of that name is an "
                                         "int64 array)");
  }
  EXPECT_THROW(c.GetInt64s("w"), IoError);
  EXPECT_THROW(c.GetString("step"), IoError);
  EXPECT_THROW(c.GetString("nope"), IoError);
}

// --- Damaged files -----------------------------------------------------------------------------

TEST(Checkpoint, MissingFileAndDirectoryAreIoErrors) {
  ScratchDir dir;
  try {
    Checkpoint::Load(dir.File("absent"));
    FAIL();
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot open checkpoint " + dir.File("absent") + ": No such file or directory");
  }
  ExpectLoadError(dir.path(), dir.path() + " is not a crank checkpoint (it is a directory)");
}

TEST(Checkpoint, TruncationAnywhereIsDetected) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  const std::string bytes = ReadBytes(path);
  const size_t n = bytes.size();
  std::vector<size_t> cuts = {0, 1, 7, 8, 11, 12, 39, 40, n - 1};
  for (size_t k = 1; k < 16; ++k) cuts.push_back(n * k / 16);
  for (size_t cut : cuts) {
    const std::string damaged = dir.File("cut");
    WriteBytes(damaged, bytes.substr(0, cut));
    const std::string expected =
        cut < cf::kHeaderSize
            ? fmt::format("{} is truncated (expected at least {} bytes, found {})", damaged,
                          cf::kMinFileSize, cut)
            : fmt::format("{} is truncated (expected {} bytes, found {})", damaged, n, cut);
    SCOPED_TRACE(cut);
    ExpectLoadError(damaged, expected);
  }
}

TEST(Checkpoint, TruncationOfLargeFileIsDetected) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  CheckpointWriter w;
  w.AddTensor("big", Tensor({300, 1000}));  // larger than the read buffer
  w.AddInt64s("step", {1});
  w.Save(path);
  const std::string bytes = ReadBytes(path);
  for (size_t k = 0; k < 16; ++k) {
    const size_t cut = bytes.size() * k / 16;
    WriteBytes(dir.File("cut"), bytes.substr(0, cut));
    EXPECT_THROW(Checkpoint::Load(dir.File("cut")), IoError) << cut;
  }
}

TEST(Checkpoint, TrailingBytesAreDetected) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  const std::string bytes = ReadBytes(path);
  WriteBytes(path, bytes + "x");
  ExpectLoadError(path, fmt::format("{} is corrupted (expected {} bytes, found {}: unexpected "
                                    "trailing data)",
                                    path, bytes.size(), bytes.size() + 1));
}

TEST(Checkpoint, EverySingleBitFlipInSmallFileIsDetected) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  const size_t n = ReadBytes(path).size();
  for (size_t i = 0; i < n; ++i) {
    for (int bit = 0; bit < 8; ++bit) {
      const auto mask = static_cast<unsigned char>(1 << bit);
      XorByte(path, i, mask);
      try {
        Checkpoint::Load(path);
        ADD_FAILURE() << "flip of byte " << i << " bit " << bit << " went undetected";
      } catch (const IoError& e) {
        EXPECT_EQ(std::string(e.what()).find(path), 0u) << e.what();
      }
      XorByte(path, i, mask);
    }
  }
  EXPECT_EQ(Checkpoint::Load(path).GetInt64s("step"), (std::vector<int64_t>{42, -1}));
}

TEST(Checkpoint, BitFlipsAcrossLargeFileAreDetected) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  CheckpointWriter w;
  Tensor t({200, 500});
  for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<float>(i);
  w.AddTensor("emb", t);
  w.AddInt64s("step", {1, 2, 3});
  w.AddString("config", std::string(5000, 'c'));
  w.Save(path);
  const size_t n = ReadBytes(path).size();
  std::mt19937 gen(1234);
  std::uniform_int_distribution<size_t> pos(0, n - 1);
  for (int trial = 0; trial < 64; ++trial) {
    // Random positions, then the last bytes (footer and the end of the last record).
    const size_t i = trial < 48 ? pos(gen) : n - 1 - static_cast<size_t>(trial - 48);
    const auto mask = static_cast<unsigned char>(1 << (trial % 8));
    XorByte(path, i, mask);
    EXPECT_THROW(Checkpoint::Load(path), IoError) << "byte " << i;
    XorByte(path, i, mask);
  }
  EXPECT_EQ(Checkpoint::Load(path).GetTensor("emb")[99999], 99999.0f);
}

TEST(Checkpoint, PayloadFlipNamesTheRecord) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  SmallWriter().Save(path);
  std::string bytes = ReadBytes(path);
  // Record "w": 12 fixed bytes, name (1), dims (2 x 8), payload_length (8), crc (4).
  const size_t payload_start = cf::kHeaderSize + 12 + 1 + 16 + 8 + 4;
  bytes[payload_start + 5] ^= 0x10;
  WriteBytes(path, bytes);
  ExpectLoadError(path, path + " is corrupted (checksum mismatch in record 'w')");
}

TEST(Checkpoint, WrongMagicIsReported) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  WriteBytes(path, "name,value\nx,1\n");
  ExpectLoadError(path, path + " is not a crank checkpoint (bad magic)");
  WriteBytes(path, "CR");  // a short prefix of the magic is a truncated checkpoint
  ExpectLoadError(path, path + " is truncated (expected at least 56 bytes, found 2)");
  SmallWriter().Save(path);
  std::string bytes = ReadBytes(path);
  bytes[3] = 'X';
  WriteBytes(path, bytes);
  ExpectLoadError(path, path + " is not a crank checkpoint (bad magic)");
}

TEST(Checkpoint, NewerFormatVersionAsksForUpgrade) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  WriteBytes(path, ForgeFile("", 0, /*version=*/7));
  ExpectLoadError(path, "checkpoint " + path +
                            " has format version 7; this crank reads up to 2: upgrade crank");
  // Also when the file is too short to hold a whole header.
  WriteBytes(path, ForgeFile("", 0, 7).substr(0, 20));
  ExpectLoadError(path, "checkpoint " + path +
                            " has format version 7; this crank reads up to 2: upgrade crank");
  // A version changed by corruption (header checksum no longer matches) is corruption.
  SmallWriter().Save(path);
  std::string bytes = ReadBytes(path);
  bytes[cf::kVersionOffset] = 7;
  WriteBytes(path, bytes);
  ExpectLoadError(path, path + " is corrupted (checksum mismatch in header)");
}

// --- Hostile files with valid checksums ---------------------------------------------------------

TEST(Checkpoint, ForgedWellFormedFileLoads) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  WriteBytes(path, ForgeFile(ForgeRecord(1, "v", {2}, 8, FloatBytes({1, -2})) +
                                 ForgeRecord(3, "s", {2}, 2, "hi"),
                             2));
  const Checkpoint c = Checkpoint::Load(path);
  EXPECT_EQ(c.GetTensor("v").ToVector(), (std::vector<float>{1, -2}));
  EXPECT_EQ(c.GetString("s"), "hi");
}

TEST(Checkpoint, HostileLengthsAreRejectedWithoutAllocating) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  const std::string ok = ForgeRecord(3, "s", {2}, 2, "hi");
  struct Case {
    std::string what;
    std::string bytes;
    std::string message;  // after "<path> is "
  };
  const uint64_t huge = uint64_t{1} << 62;
  const std::vector<Case> cases = {
      {"huge records length", ForgeFile(ok, 1, 1, huge),
       fmt::format("truncated (expected {} bytes, found {})", huge + 56, ok.size() + 56)},
      {"maximal records length", ForgeFile(ok, 1, 1, ~uint64_t{0}),
       fmt::format("corrupted (impossible records length {})", ~uint64_t{0})},
      {"huge record count", ForgeFile(ok, huge),
       fmt::format("corrupted ({} records cannot fit in {} bytes)", huge, ok.size())},
      {"more records declared than present", ForgeFile(ok + std::string(20, '\0'), 2),
       "corrupted (record #1 overruns the records section)"},
      {"fewer records declared than present", ForgeFile(ok + ForgeRecord(3, "t", {1}, 1, "x"), 1),
       "corrupted (38 bytes follow the last of its 1 records)"},
      {"huge name length", ForgeFile(ForgeRecord(3, "s", {2}, 2, "hi", 0xFFFFFFFFu), 1),
       "corrupted (invalid header of record #0)"},
      {"zero name length", ForgeFile(ForgeRecord(3, "", {2}, 2, "hi"), 1),
       "corrupted (invalid header of record #0)"},
      {"rank above limit", ForgeFile(ForgeRecord(1, "t", std::vector<int64_t>(9, 1), 4, "abcd"), 1),
       "corrupted (invalid header of record #0)"},
      {"huge tensor payload", ForgeFile(ForgeRecord(1, "t", {int64_t{1} << 60}, huge, "abcd"), 1),
       fmt::format("corrupted (record 't' overruns the records section ({} payload bytes, 8 "
                   "left))",
                   huge)},
      {"huge string payload",
       ForgeFile(ForgeRecord(3, "s", {int64_t{1} << 40}, uint64_t{1} << 40, "hi"), 1),
       fmt::format("corrupted (record 's' overruns the records section ({} payload bytes, 6 "
                   "left))",
                   uint64_t{1} << 40)},
      {"overflowing shape",
       ForgeFile(ForgeRecord(1, "t", {int64_t{1} << 40, int64_t{1} << 40, 0}, 0, ""), 1),
       "corrupted (record 't' has an invalid shape (1099511627776, 1099511627776, 0))"},
      {"negative dim", ForgeFile(ForgeRecord(1, "t", {-1, -4}, 16, std::string(16, 'x')), 1),
       "corrupted (record 't' has an invalid shape (-1, -4))"},
      {"shape and payload disagree", ForgeFile(ForgeRecord(1, "t", {3}, 8, std::string(8, 'x')), 1),
       "corrupted (record 't' of shape (3,) declares 8 payload bytes)"},
      {"unknown kind", ForgeFile(ForgeRecord(9, "k", {1}, 1, "x"), 1),
       "corrupted (record 'k' has unknown kind 9)"},
      {"int64 array of rank 2", ForgeFile(ForgeRecord(2, "i", {1, 1}, 8, std::string(8, 'x')), 1),
       "corrupted (int64 array record 'i' has rank 2, expected 1)"},
      {"duplicate names", ForgeFile(ok + ok, 2), "corrupted (duplicate record 's')"},
      {"unprintable name", ForgeFile(ForgeRecord(9, std::string("a\n\xff", 3), {1}, 1, "x"), 1),
       "corrupted (record 'a\\x0a\\xff' has unknown kind 9)"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.what);
    WriteBytes(path, c.bytes);
    ExpectLoadError(path, path + " is " + c.message);
  }
}

TEST(Checkpoint, NonZeroReservedHeaderFieldIsCorruption) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  std::string f = std::string(cf::kMagic, 8) + U32(1) + U32(1) + U64(0) + U64(0) + U32(0);
  f += U32(Crc(f));
  f += U64(56);
  f += U32(Crc(f)) + "CEND";
  WriteBytes(path, f);
  ExpectLoadError(path, path + " is corrupted (reserved header fields are not zero)");
}

}  // namespace
}  // namespace crank

namespace crank {
namespace {

TEST(Checkpoint, SixteenBitTensorsRoundTripWithTheirPrecisionInFormatVersion2) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  Tensor16 bf({3, 5}), fp({2, 2});
  for (int64_t i = 0; i < bf.size(); ++i) bf.data()[i] = static_cast<uint16_t>(0x3f80 + 7 * i);
  const uint16_t fp_bits[4] = {0x3c00, 0x7bff, 0x8001, 0x7e00};  // 1, max, -2^-24, NaN
  std::copy(fp_bits, fp_bits + 4, fp.data());
  CheckpointWriter w;
  w.AddTensor16("bf", EmbeddingPrecision::kBf16, bf);
  w.AddTensor("f", Tensor({1}, {2.0f}));
  w.AddTensor16("fp", EmbeddingPrecision::kFp16, fp);
  EXPECT_THROW(w.AddTensor16("x", EmbeddingPrecision::kFp32, fp), InvalidArgument);
  const CheckpointFileInfo info = w.Save(path);
  // Header + 3 records (fixed part, name, dims) + payloads of 2 bytes per value + footer.
  EXPECT_EQ(info.bytes, cf::kHeaderSize + 3 * cf::kRecordFixedSize + 2 + 1 + 2 + 8 * 5 + 2 * 15 +
                            4 + 2 * 4 + cf::kFooterSize);
  const Checkpoint c = Checkpoint::Load(path);
  EXPECT_EQ(c.format_version(), 2u);
  EmbeddingPrecision p = EmbeddingPrecision::kFp32;
  const Tensor16* b = c.FindTensor16("bf", &p);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(p, EmbeddingPrecision::kBf16);
  EXPECT_EQ(b->shape(), bf.shape());
  EXPECT_EQ(0, std::memcmp(b->data(), bf.data(), 2 * bf.size()));
  const Tensor16* h = c.FindTensor16("fp", &p);
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(p, EmbeddingPrecision::kFp16);
  EXPECT_EQ(0, std::memcmp(h->data(), fp_bits, sizeof(fp_bits)));
  EXPECT_EQ(c.FindTensor16("f", &p), nullptr);
  try {
    c.GetTensor("bf");
    ADD_FAILURE() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("is a 16-bit tensor"), std::string::npos) << e.what();
  }
  // A file without 16-bit tensors stays version 1.
  SmallWriter().Save(path);
  EXPECT_EQ(Checkpoint::Load(path).format_version(), 1u);
}

TEST(Checkpoint, SixteenBitTensorInAVersion1FileIsCorruption) {
  ScratchDir dir;
  const std::string path = dir.File("ckpt");
  const std::string payload("\x80\x3f\x00\x40", 4);
  const std::string record = ForgeRecord(4, "t", {2}, 4, payload);
  WriteBytes(path, ForgeFile(record, 1, /*version=*/2));
  EmbeddingPrecision p;
  EXPECT_NE(Checkpoint::Load(path).FindTensor16("t", &p), nullptr);
  WriteBytes(path, ForgeFile(record, 1, /*version=*/1));
  ExpectLoadError(path, path +
                            " is corrupted (record 't' is a bfloat16 tensor, which format "
                            "version 1 does not have)");
  // A payload that is not 2 bytes per value.
  WriteBytes(path, ForgeFile(ForgeRecord(5, "t", {3}, 4, payload), 1, 2));
  ExpectLoadError(path, path + " is corrupted (record 't' of shape (3,) declares 4 payload bytes)");
}

}  // namespace
}  // namespace crank
