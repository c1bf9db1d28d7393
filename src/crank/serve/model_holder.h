#ifndef CRANK_SERVE_MODEL_HOLDER_H_
#define CRANK_SERVE_MODEL_HOLDER_H_

// ModelHolder: the model a server answers with, and its hot reload.
//
// current() is the model serving now (nullptr until the first load). A reload loads the file
// into a new ServedModel, off the request path, and then swaps the pointer: requests mapped
// with the old model finish on it (they hold it), later requests get the new one. A file that
// does not load (damaged, truncated, not a model: IoError / ConfigError from LoadModel) is
// refused with a log line and the crank_model_reloads{result="failure"} metric, and the old
// model keeps serving; the same file is not tried again until it changes.
//
// Reloads happen on a background thread (Start): when the file at `path` changes identity
// (device, inode, size or modification time; training replaces it atomically by rename), or
// when RequestReload is called (SIGHUP). Thread-safe.

#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "crank/serve/metrics.h"
#include "crank/serve/served_model.h"

namespace crank::serve {

class ModelHolder {
 public:
  // `threads`: compute threads of each forward pass (ServedModel::Load).
  ModelHolder(std::string path, int threads, ServeMetrics* metrics);
  ~ModelHolder();
  ModelHolder(const ModelHolder&) = delete;
  ModelHolder& operator=(const ModelHolder&) = delete;

  // Loads the file on the calling thread as version 1. Throws as LoadModel.
  void LoadInitial();
  std::shared_ptr<const ServedModel> current() const;

  // Loads the file now on the calling thread. True when the new model serves; false when it
  // was refused (logged, counted) and the old one keeps serving.
  bool Reload();

  // Starts the background thread: polls the file every `poll` (0: never; only
  // RequestReload) and reloads on a change.
  void Start(std::chrono::milliseconds poll);
  void RequestReload();
  void Stop();  // joins the background thread (after a load in progress)

 private:
  struct FileId {
    dev_t dev = 0;
    ino_t ino = 0;
    off_t size = -1;
    int64_t mtime_ns = 0;
    bool operator==(const FileId&) const = default;
  };
  FileId Stat() const;  // size -1 when the file cannot be read
  void Loop(std::chrono::milliseconds poll);

  const std::string path_;
  const int threads_;
  ServeMetrics* metrics_;

  mutable std::mutex mu_;  // current_, the ids, the flags
  std::shared_ptr<const ServedModel> current_;
  int64_t next_version_ = 1;
  FileId loaded_id_, failed_id_;
  bool reload_requested_ = false;
  bool stopping_ = false;
  std::condition_variable cv_;
  std::mutex load_mu_;  // one load at a time
  std::thread thread_;
};

}  // namespace crank::serve

#endif  // CRANK_SERVE_MODEL_HOLDER_H_
