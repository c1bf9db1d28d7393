#include "crank/serve/model_holder.h"

#include <sys/stat.h>

#include <exception>

#include "crank/base/log.h"

namespace crank::serve {

ModelHolder::ModelHolder(std::string path, int threads, ServeMetrics* metrics)
    : path_(std::move(path)), threads_(threads), metrics_(metrics) {}

ModelHolder::~ModelHolder() { Stop(); }

ModelHolder::FileId ModelHolder::Stat() const {
  struct stat st {};
  FileId id;
  if (::stat(path_.c_str(), &st) != 0) return id;
  id.dev = st.st_dev;
  id.ino = st.st_ino;
  id.size = st.st_size;
  id.mtime_ns = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
  return id;
}

void ModelHolder::LoadInitial() {
  std::lock_guard<std::mutex> load(load_mu_);
  const FileId id = Stat();
  std::shared_ptr<const ServedModel> m = ServedModel::Load(path_, 1, threads_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = std::move(m);
    loaded_id_ = id;
    next_version_ = 2;
  }
  metrics_->ModelLoaded(1, current()->load_seconds());
  LogInfo("loaded model {} (version 1) in {:.3f} s", path_, current()->load_seconds());
}

std::shared_ptr<const ServedModel> ModelHolder::current() const {
  std::lock_guard<std::mutex> lock(mu_);
  return current_;
}

bool ModelHolder::Reload() {
  std::lock_guard<std::mutex> load(load_mu_);
  const FileId id = Stat();
  int64_t version;
  {
    std::lock_guard<std::mutex> lock(mu_);
    version = next_version_;
  }
  std::shared_ptr<const ServedModel> m;
  try {
    m = ServedModel::Load(path_, version, threads_);
  } catch (const std::exception& e) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      failed_id_ = id;
    }
    metrics_->ReloadFailed();
    LogWarning("reload of {} refused, the model loaded before keeps serving: {}", path_, e.what());
    return false;
  }
  {
    std::lock_guard<std::mutex> lock(mu_);
    current_ = m;
    loaded_id_ = id;
    next_version_ = version + 1;
  }
  metrics_->ModelLoaded(version, m->load_seconds());
  LogInfo("reloaded model {} (version {}) in {:.3f} s", path_, version, m->load_seconds());
  return true;
}

void ModelHolder::Start(std::chrono::milliseconds poll) {
  thread_ = std::thread([this, poll] { Loop(poll); });
}

void ModelHolder::RequestReload() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    reload_requested_ = true;
  }
  cv_.notify_all();
}

void ModelHolder::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void ModelHolder::Loop(std::chrono::milliseconds poll) {
  std::unique_lock<std::mutex> lock(mu_);
  for (;;) {
    if (poll.count() > 0) {
      cv_.wait_for(lock, poll, [&] { return stopping_ || reload_requested_; });
    } else {
      cv_.wait(lock, [&] { return stopping_ || reload_requested_; });
    }
    if (stopping_) return;
    bool reload = reload_requested_;
    reload_requested_ = false;
    if (!reload && poll.count() > 0) {
      lock.unlock();
      const FileId id = Stat();
      lock.lock();
      // A file that cannot be read now (being replaced) is looked at again next time.
      reload = id.size >= 0 && !(id == loaded_id_) && !(id == failed_id_);
    }
    if (!reload) continue;
    lock.unlock();
    Reload();
    lock.lock();
  }
}

}  // namespace crank::serve
