#include "crank/data/line_reader.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

struct Read {
  std::vector<std::string> lines;
  std::vector<int64_t> too_long;  // line numbers
};

Read ReadLines(LineReader* r) {
  Read out;
  std::string_view line;
  for (;;) {
    const LineReader::Status s = r->Next(&line);
    if (s == LineReader::Status::kEnd) break;
    if (s == LineReader::Status::kTooLong) {
      out.too_long.push_back(r->line_number());
    } else {
      out.lines.emplace_back(line);
    }
  }
  return out;
}

TEST(LineReader, SplitsLfAndCrlfAndKeepsALastLineWithoutNewline) {
  LineReader r(std::string_view("a\nb\r\n\nc\r\rd"), "text", 100);
  const Read got = ReadLines(&r);
  EXPECT_EQ(got.lines, (std::vector<std::string>{"a", "b", "", "c\r\rd"}));
  EXPECT_EQ(r.line_number(), 4);
  EXPECT_EQ(r.bytes_read(), 10);
}

TEST(LineReader, LinesAcrossChunkBoundariesMatchTheText) {
  test::TempDir dir;
  std::string text;
  std::vector<std::string> expected;
  for (int i = 0; i < 5000; ++i) {
    expected.push_back(std::string(static_cast<size_t>(i % 97), static_cast<char>('a' + i % 26)));
    text += expected.back() + (i % 3 == 0 ? "\r\n" : "\n");
  }
  const std::string path = dir.Write("lines.txt", text);
  LineReader small(path, 200, 4096);  // buffer ~ 64 KiB + 200: many refills
  const Read got = ReadLines(&small);
  EXPECT_EQ(got.lines, expected);
  EXPECT_TRUE(got.too_long.empty());
  EXPECT_EQ(small.bytes_read(), static_cast<int64_t>(text.size()));
}

// The buffer is not zeroed: a file shorter than it, or a last chunk shorter than the previous
// one, must end at the last byte read, never at stale or uninitialised bytes after it.
TEST(LineReader, ReadsOnlyTheBytesOfTheFile) {
  test::TempDir dir;
  const std::string short_file = dir.Write("short.txt", "a\r\nbc\nlast\r");
  LineReader r(short_file, 100);  // a 4 MiB buffer holding 11 bytes
  EXPECT_EQ(ReadLines(&r).lines, (std::vector<std::string>{"a", "bc", "last"}));
  // 80,002 bytes through a buffer of 64 KiB + 100 bytes: the second read fills only part of it,
  // and the bytes after the final "yz" are stale "x\n" lines of the first read.
  std::string text;
  for (int i = 0; i < 40000; ++i) text += "x\n";
  text += "yz";
  const std::string long_file = dir.Write("long.txt", text);
  LineReader chunks(long_file, 100, 4096);
  const Read got = ReadLines(&chunks);
  ASSERT_EQ(got.lines.size(), 40001u);
  EXPECT_EQ(got.lines.back(), "yz");
  EXPECT_EQ(chunks.bytes_read(), static_cast<int64_t>(text.size()));
}

TEST(LineReader, SkipsOverLongLinesWithoutHoldingThem) {
  test::TempDir dir;
  const std::string huge(300000, 'x');  // larger than the reader's buffer
  const std::string text = "ok\n" + huge + "\n" + "12345\n" + "123456\r\n" + huge + "\nend";
  const std::string path = dir.Write("long.txt", text);
  LineReader r(path, 5, 4096);
  const Read got = ReadLines(&r);
  EXPECT_EQ(got.lines, (std::vector<std::string>{"ok", "12345", "end"}));
  EXPECT_EQ(got.too_long, (std::vector<int64_t>{2, 4, 5}));
  LineReader text_reader(std::string_view(text), "mem", 5);
  const Read got_text = ReadLines(&text_reader);
  EXPECT_EQ(got_text.lines, got.lines);
  EXPECT_EQ(got_text.too_long, got.too_long);
}

TEST(LineReader, OverLongLastLineWithoutNewline) {
  test::TempDir dir;
  const std::string path = dir.Write("tail.txt", "a\n" + std::string(100000, 'y'));
  LineReader r(path, 10, 4096);
  const Read got = ReadLines(&r);
  EXPECT_EQ(got.lines, (std::vector<std::string>{"a"}));
  EXPECT_EQ(got.too_long, (std::vector<int64_t>{2}));
}

TEST(LineReader, InputWithoutNewlinesStopsWithADataError) {
  LineReader r("/dev/zero", 1000);
  std::string_view line;
  try {
    r.Next(&line);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("/dev/zero:1: no end of line"), std::string::npos)
        << e.what();
  }
  EXPECT_LE(r.bytes_read(), r.MaxSkipBytes() + (int64_t{8} << 20));  // stopped, not drained
}

TEST(LineReader, EmptyFileHasNoLines) {
  test::TempDir dir;
  LineReader r(dir.Write("empty.txt", ""), 10);
  std::string_view line;
  EXPECT_EQ(r.Next(&line), LineReader::Status::kEnd);
  EXPECT_EQ(r.Next(&line), LineReader::Status::kEnd);
}

TEST(LineReader, OpenErrorsAreIoErrorsNamingThePath) {
  test::TempDir dir;
  EXPECT_THROW(LineReader(dir.Path("missing"), 10), IoError);
  try {
    LineReader r(dir.Path(""), 10);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find(dir.Path("")), std::string::npos);
  }
}

TEST(LineReader, ReadErrorIsIoError) {
  // Reading address 0 of the process's own memory fails with EIO after a successful open.
  LineReader r("/proc/self/mem", 10);
  std::string_view line;
  try {
    r.Next(&line);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("error reading '/proc/self/mem'"), std::string::npos);
  }
}

}  // namespace
}  // namespace crank
