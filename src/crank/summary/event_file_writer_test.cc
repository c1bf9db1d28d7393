#include "crank/summary/event_file_writer.h"

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/io/crc32c.h"
#include "crank/summary/tfrecord.h"
#include "event_file_reader.h"
#include "tfevents.pb.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

using testing::LittleEndianAt;
using testing::ParseTfRecords;
using testing::TfMask;

std::vector<tfevents::Event> ReadEvents(const std::string& path) {
  return testing::ReadEventFile(path);
}

class EventFileWriterTest : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_events_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::remove_all(dir_);
  }
  void TearDown() override { fs::remove_all(dir_); }
  fs::path dir_;
};

TEST(TfRecord, FramesDataWithLengthAndMaskedCrcs) {
  std::string out;
  AppendTfRecord("abc", &out);
  ASSERT_EQ(out.size(), 12u + 3u + 4u);
  EXPECT_EQ(LittleEndianAt(out, 0, 8), 3u);
  EXPECT_EQ(out.substr(12, 3), "abc");
  EXPECT_EQ(MaskedCrc32c("abc", 3), TfMask(Crc32c("abc", 3)));
  EXPECT_EQ(ParseTfRecords(out), std::vector<std::string>{"abc"});
  // CRC-32C("123456789") = 0xE3069283, masked: rotated right by 15, plus the delta.
  EXPECT_EQ(MaskedCrc32c("123456789", 9), 0xC78AB0E5u);
}

TEST_F(EventFileWriterTest, WritesTheVersionThenScalarEventsThatReadBack) {
  std::string path;
  {
    EventFileWriter w(dir_.string());
    path = w.path();
    w.AddScalars(10, {{"train/loss", 0.5}, {"train/examples_per_sec", 1234.5}}, 1700000000.25);
    w.AddScalars(20, {{"eval/auc", 0.75}});
    w.Flush();
    EXPECT_EQ(ReadEvents(path).size(), 3u);  // flushed: readable while open
    w.AddScalars(30, {{"train/loss", 0.25}});
  }  // the destructor flushes the last event
  const std::vector<tfevents::Event> events = ReadEvents(path);
  ASSERT_EQ(events.size(), 4u);
  EXPECT_EQ(events[0].file_version(), "brain.Event:2");
  EXPECT_EQ(events[0].step(), 0);
  EXPECT_GT(events[0].wall_time(), 1.6e9);
  EXPECT_FALSE(events[0].has_summary());

  EXPECT_EQ(events[1].step(), 10);
  EXPECT_EQ(events[1].wall_time(), 1700000000.25);
  ASSERT_EQ(events[1].summary().value_size(), 2);
  EXPECT_EQ(events[1].summary().value(0).tag(), "train/loss");
  EXPECT_EQ(events[1].summary().value(0).simple_value(), 0.5f);
  EXPECT_EQ(events[1].summary().value(1).tag(), "train/examples_per_sec");
  EXPECT_EQ(events[1].summary().value(1).simple_value(), 1234.5f);

  EXPECT_EQ(events[2].step(), 20);
  EXPECT_GE(events[2].wall_time(), events[0].wall_time());
  ASSERT_EQ(events[2].summary().value_size(), 1);
  EXPECT_EQ(events[2].summary().value(0).tag(), "eval/auc");
  EXPECT_EQ(events[2].summary().value(0).simple_value(), 0.75f);
  EXPECT_EQ(events[3].step(), 30);
  EXPECT_EQ(events[3].summary().value(0).simple_value(), 0.25f);
}

TEST_F(EventFileWriterTest, NamesTheFileAsTensorFlowDoesAndNeverReusesAName) {
  EventFileWriter a(dir_.string());
  EventFileWriter b(dir_.string());  // most likely the same second
  char host[256] = {};
  ASSERT_EQ(gethostname(host, sizeof(host) - 1), 0);
  const std::string name = fs::path(a.path()).filename().string();
  EXPECT_TRUE(std::regex_match(name, std::regex(R"(events\.out\.tfevents\.\d{10}\..+)"))) << name;
  EXPECT_EQ(name.substr(31), host);  // "events.out.tfevents." + 10 digits + "."
  EXPECT_EQ(fs::path(a.path()).parent_path(), dir_);
  EXPECT_NE(a.path(), b.path());
  EXPECT_TRUE(fs::exists(a.path()));
  EXPECT_TRUE(fs::exists(b.path()));
}

TEST_F(EventFileWriterTest, CreatesMissingParentDirectories) {
  EventFileWriter w((dir_ / "a" / "b").string());
  EXPECT_EQ(fs::path(w.path()).parent_path(), dir_ / "a" / "b");
  EXPECT_EQ(ReadEvents(w.path()).size(), 1u);
}

TEST_F(EventFileWriterTest, ADirectoryThatCannotBeCreatedIsAnIoErrorNamingIt) {
  fs::create_directories(dir_);
  std::ofstream(dir_ / "file") << "x";
  const std::string bad = (dir_ / "file" / "logs").string();
  try {
    EventFileWriter w(bad);
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("tensorboard directory " + bad), std::string::npos)
        << e.what();
  }
  try {
    EventFileWriter w((dir_ / "file").string());
    FAIL() << "expected IoError";
  } catch (const IoError& e) {
    EXPECT_NE(std::string(e.what()).find("not a directory"), std::string::npos) << e.what();
  }
}

// A process that dies without flushing loses the queued events only: the file holds the
// records flushed before, whole.
TEST_F(EventFileWriterTest, AProcessThatDiesLeavesAReadablePrefix) {
  fs::create_directories(dir_);
  const std::string path_file = (dir_ / "path.txt").string();
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    auto* w = new EventFileWriter(dir_.string());  // never destroyed: no flush at exit
    std::ofstream(path_file) << w->path();
    w->AddScalars(1, {{"train/loss", 1.0}});
    w->AddScalars(2, {{"train/loss", 2.0}});
    w->Flush();
    w->AddScalars(3, {{"train/loss", 3.0}});
    _exit(0);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  ASSERT_TRUE(WIFEXITED(status));
  std::ifstream in(path_file);
  std::string path;
  std::getline(in, path);
  const std::vector<tfevents::Event> events = ReadEvents(path);
  ASSERT_EQ(events.size(), 3u);
  EXPECT_EQ(events[2].step(), 2);
}

// A write that fails part-way (here: the file-size limit, as a full disk would) leaves the file
// ending with its last whole record, and the error names the file.
TEST_F(EventFileWriterTest, AFailedWriteLeavesOnlyWholeRecords) {
  EventFileWriter w(dir_.string());
  w.AddScalars(1, {{"train/loss", 1.0}});
  w.Flush();
  const auto good = fs::file_size(w.path());
  rlimit old{};
  ASSERT_EQ(getrlimit(RLIMIT_FSIZE, &old), 0);
  struct sigaction ignore {
  }, saved{};
  ignore.sa_handler = SIG_IGN;
  ASSERT_EQ(sigaction(SIGXFSZ, &ignore, &saved), 0);
  rlimit small = old;
  small.rlim_cur = good + 40;  // room for part of the next flush only
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &small), 0);
  std::vector<std::pair<std::string, double>> many;
  for (int i = 0; i < 20; ++i) many.emplace_back("train/value_" + std::to_string(i), i);
  w.AddScalars(2, many);
  std::string error;
  try {
    w.Flush();
  } catch (const IoError& e) {
    error = e.what();
  }
  ASSERT_EQ(setrlimit(RLIMIT_FSIZE, &old), 0);
  ASSERT_EQ(sigaction(SIGXFSZ, &saved, nullptr), 0);
  EXPECT_NE(error.find("cannot write the event file " + w.path()), std::string::npos) << error;
  EXPECT_EQ(fs::file_size(w.path()), good);
  const std::vector<tfevents::Event> events = ReadEvents(w.path());
  ASSERT_EQ(events.size(), 2u);
  EXPECT_EQ(events[1].step(), 1);
}

}  // namespace
}  // namespace crank
