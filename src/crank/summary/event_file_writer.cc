#include "crank/summary/event_file_writer.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/summary/tfrecord.h"
#include "tfevents.pb.h"

namespace crank {
namespace {

constexpr size_t kFlushBytes = 64 * 1024;

std::string HostName() {
  char name[256] = {};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == '\0') return "localhost";
  return name;
}

std::string Serialize(const tfevents::Event& event) {
  std::string bytes;
  CRANK_CHECK(event.SerializeToString(&bytes));
  return bytes;
}

}  // namespace

double WallTimeSeconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

EventFileWriter::EventFileWriter(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    throw IoError(fmt::format("tensorboard directory {}: exists and is not a directory", dir));
  }
  fs::create_directories(dir, ec);
  if (ec) {
    throw IoError(fmt::format("tensorboard directory {}: cannot create it: {}", dir, ec.message()));
  }
  const double now = WallTimeSeconds();
  const std::string base = (fs::path(dir) / fmt::format("events.out.tfevents.{:010d}.{}",
                                                        static_cast<int64_t>(now), HostName()))
                               .string();
  for (int n = 1; fd_ < 0; ++n) {
    path_ = n == 1 ? base : fmt::format("{}.{}", base, n);
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0644);
    if (fd_ < 0 && (errno != EEXIST || n >= 1000)) {
      throw IoError(fmt::format("tensorboard directory {}: cannot create the event file {}: {}",
                                dir, path_, std::strerror(errno)));
    }
  }
  tfevents::Event event;
  event.set_wall_time(now);
  event.set_file_version(kEventFileVersion);
  Queue(Serialize(event));
  try {
    Flush();
  } catch (const IoError& e) {
    ::close(fd_);
    fd_ = -1;
    throw IoError(fmt::format("tensorboard directory {}: {}", dir, e.what()));
  }
}

EventFileWriter::~EventFileWriter() {
  if (fd_ < 0) return;
  try {
    Flush();
  } catch (const IoError& e) {
    LogWarning("{}", e.what());
  }
  ::close(fd_);
}

void EventFileWriter::AddScalars(int64_t step,
                                 const std::vector<std::pair<std::string, double>>& scalars,
                                 double wall_time) {
  tfevents::Event event;
  event.set_wall_time(wall_time >= 0 ? wall_time : WallTimeSeconds());
  event.set_step(step);
  tfevents::Summary* summary = event.mutable_summary();
  for (const auto& [tag, value] : scalars) {
    tfevents::Summary::Value* v = summary->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  Queue(Serialize(event));
  if (pending_.size() >= kFlushBytes) Flush();
}

void EventFileWriter::Queue(const std::string& event_bytes) {
  AppendTfRecord(event_bytes, &pending_);
}

void EventFileWriter::Flush() {
  if (pending_.empty()) return;
  std::string data;
  data.swap(pending_);  // on an error the queued records are dropped, not retried
  size_t done = 0;
  while (done < data.size()) {
    const ssize_t n = ::write(fd_, data.data() + done, data.size() - done);
    if (n > 0) {
      done += static_cast<size_t>(n);
      continue;
    }
    if (n < 0 && errno == EINTR) continue;
    const std::string cause = n < 0 ? std::strerror(errno) : "no progress";
    // Cut the file back to its last whole record (a partial record would end the file).
    if (::ftruncate(fd_, written_) != 0 || ::lseek(fd_, written_, SEEK_SET) < 0) {
      throw IoError(fmt::format(
          "cannot write the event file {}: {} (and cannot cut it back to its last whole record: "
          "{})",
          path_, cause, std::strerror(errno)));
    }
    throw IoError(fmt::format("cannot write the event file {}: {}", path_, cause));
  }
  written_ += static_cast<int64_t>(data.size());
}

}  // namespace crank
