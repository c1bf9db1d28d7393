#include "crank/io/atomic_file.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/io/io_test_util.h"

namespace crank {
namespace {

using io_test::ReadBytes;
using io_test::ScratchDir;
using io_test::WriteBytes;

TEST(AtomicFileWriter, CommitCreatesFileWithAppendedBytes) {
  ScratchDir dir;
  const std::string path = dir.File("out");
  {
    AtomicFileWriter w(path);
    EXPECT_EQ(w.temp_path().rfind(path + ".tmp-", 0), 0u);
    w.Append("hello ", 6);
    w.Append("world", 5);
    EXPECT_EQ(w.bytes_appended(), 11u);
    w.Commit();
  }
  EXPECT_EQ(ReadBytes(path), "hello world");
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out"});
}

TEST(AtomicFileWriter, LargeAndSmallAppendsKeepTheirOrder) {
  ScratchDir dir;
  const std::string path = dir.File("big");
  std::string expected;
  std::string big(3 << 20, '\0');
  for (size_t i = 0; i < big.size(); ++i) big[i] = static_cast<char>(i * 31 + 7);
  {
    AtomicFileWriter w(path);
    for (int round = 0; round < 3; ++round) {
      w.Append("ab", 2);
      w.Append(big.data(), big.size() - static_cast<size_t>(round) * 1000);
      expected += "ab" + big.substr(0, big.size() - static_cast<size_t>(round) * 1000);
    }
    w.Commit();
  }
  EXPECT_EQ(ReadBytes(path), expected);
}

TEST(AtomicFileWriter, CommitReplacesExistingFile) {
  ScratchDir dir;
  const std::string path = dir.File("out");
  WriteBytes(path, "old contents that are longer");
  AtomicFileWriter w(path);
  w.Append("new", 3);
  w.Commit();
  EXPECT_EQ(ReadBytes(path), "new");
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out"});
}

TEST(AtomicFileWriter, DestroyingWithoutCommitKeepsOldFileAndRemovesTemporary) {
  ScratchDir dir;
  const std::string path = dir.File("out");
  WriteBytes(path, "old");
  {
    AtomicFileWriter w(path);
    w.Append("partial new data", 16);
  }
  EXPECT_EQ(ReadBytes(path), "old");
  EXPECT_EQ(dir.List(), std::vector<std::string>{"out"});
}

TEST(AtomicFileWriter, RejectsDirectoryAsPath) {
  ScratchDir dir;
  ASSERT_EQ(::mkdir(dir.File("sub").c_str(), 0755), 0);
  try {
    AtomicFileWriter w(dir.File("sub"));
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_EQ(std::string(e.what()),
              "cannot write " + dir.File("sub") + ": it exists and is a directory");
  }
  EXPECT_EQ(dir.List(), std::vector<std::string>{"sub"});
}

TEST(AtomicFileWriter, MissingParentDirectoryNamesPathAndReason) {
  ScratchDir dir;
  const std::string path = dir.File("missing/out");
  try {
    AtomicFileWriter w(path);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    const std::string msg = e.what();
    EXPECT_EQ(msg.rfind("cannot write " + path + ": creating temporary file", 0), 0u) << msg;
    EXPECT_NE(msg.find("No such file or directory"), std::string::npos) << msg;
  }
}

TEST(AtomicFileWriter, ParentDirectoryOfPaths) {
  EXPECT_EQ(ParentDirectory("model.ckpt"), ".");
  EXPECT_EQ(ParentDirectory("/model.ckpt"), "/");
  EXPECT_EQ(ParentDirectory("a/b/model.ckpt"), "a/b");
  EXPECT_EQ(ParentDirectory("/a/model.ckpt"), "/a");
}

TEST(PublishHardLink, ReplacesTheTargetWithTheSameFile) {
  ScratchDir dir;
  const std::string from = dir.File("model.ckpt"), to = dir.File("model");
  WriteBytes(from, "new contents");
  WriteBytes(to, "old");
  ASSERT_TRUE(PublishHardLink(from, to));
  EXPECT_EQ(ReadBytes(to), "new contents");
  struct stat a, b;
  ASSERT_EQ(::stat(from.c_str(), &a), 0);
  ASSERT_EQ(::stat(to.c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);  // one file, two names
  EXPECT_EQ(a.st_nlink, 2u);
  // Replacing the source atomically afterwards leaves the published file as it was.
  AtomicFileWriter w(from);
  w.Append("newer", 5);
  w.Commit();
  EXPECT_EQ(ReadBytes(to), "new contents");
}

TEST(PublishHardLink, FailsWithoutTouchingTheTargetOrLeavingATemporary) {
  ScratchDir dir;
  const std::string to = dir.File("model");
  WriteBytes(to, "old");
  EXPECT_FALSE(PublishHardLink(dir.File("absent"), to));
  EXPECT_EQ(ReadBytes(to), "old");
  EXPECT_FALSE(PublishHardLink(dir.File("absent"), dir.File("missing_dir/model")));
  struct stat st;
  EXPECT_NE(::stat((to + ".tmp-link-" + std::to_string(::getpid())).c_str(), &st), 0);
}

TEST(CopyFileAtomically, CopiesEveryByteAndNamesAMissingSource) {
  ScratchDir dir;
  const std::string from = dir.File("model.best"), to = dir.File("model");
  std::string bytes(3 * (size_t{1} << 20) + 17, '\0');  // more than one read block
  for (size_t i = 0; i < bytes.size(); ++i) bytes[i] = static_cast<char>(i * 131 + 7);
  WriteBytes(from, bytes);
  WriteBytes(to, "old");
  CopyFileAtomically(from, to);
  EXPECT_EQ(ReadBytes(to), bytes);
  struct stat a, b;
  ASSERT_EQ(::stat(from.c_str(), &a), 0);
  ASSERT_EQ(::stat(to.c_str(), &b), 0);
  EXPECT_NE(a.st_ino, b.st_ino);  // a copy, not a link
  try {
    CopyFileAtomically(dir.File("absent"), to);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("absent"), std::string::npos) << e.what();
  }
  EXPECT_EQ(ReadBytes(to), bytes);
}

}  // namespace
}  // namespace crank
