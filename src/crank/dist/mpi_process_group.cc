// The MPI backend of ProcessGroup (dist/process_group.h): MPI_COMM_WORLD of OpenMPI. Compiled
// only when CMake finds MPI (CRANK_HAVE_MPI).

#include <fmt/format.h>
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>

#include "crank/base/error.h"
#include "crank/dist/process_group.h"
#include "crank/dist/watchdog.h"

namespace crank {
namespace {

// One collective: adds the wall time of its scope to *total and tells the watchdog (when
// there is one) that the rank waits in `name` until the scope ends.
class ScopedCollective {
 public:
  ScopedCollective(double* total, CollectiveWatchdog* watchdog, const char* name)
      : total_(total), watchdog_(watchdog), t0_(std::chrono::steady_clock::now()) {
    if (watchdog_ != nullptr) watchdog_->Enter(name);
  }
  ~ScopedCollective() {
    if (watchdog_ != nullptr) watchdog_->Leave();
    *total_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0_).count();
  }

 private:
  double* total_;
  CollectiveWatchdog* watchdog_;
  std::chrono::steady_clock::time_point t0_;
};

void Check(int rc, const char* call) {
  if (rc == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int len = 0;
  MPI_Error_string(rc, text, &len);
  throw IoError(fmt::format("{} failed: {}", call, std::string(text, len)));
}

int CountOf(size_t bytes, const char* call) {
  if (bytes > static_cast<size_t>(std::numeric_limits<int>::max())) {
    throw IoError(
        fmt::format("{}: a buffer of {} bytes exceeds MPI's 2 GiB count limit", call, bytes));
  }
  return static_cast<int>(bytes);
}

// Displacements of consecutive buffers of `counts` bytes; returns the total.
int64_t Displacements(const std::vector<int>& counts, std::vector<int>* displs, const char* call) {
  displs->resize(counts.size());
  int64_t total = 0;
  for (size_t i = 0; i < counts.size(); ++i) {
    (*displs)[i] = CountOf(static_cast<size_t>(total), call);
    total += counts[i];
  }
  return total;
}

class MpiProcessGroup : public ProcessGroup {
 public:
  MpiProcessGroup() {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (!initialized) {
      int provided = 0;
      Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
      owns_mpi_ = true;
    }
    // Errors come back as codes (turned into IoError) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
  }
  ~MpiProcessGroup() override {
    watchdog_.reset();
    if (owns_mpi_) MPI_Finalize();
  }

  void StartWatchdog(double timeout_seconds) override {
    CRANK_REQUIRE(watchdog_ == nullptr, "StartWatchdog: already started");
    if (timeout_seconds <= 0) return;
    const int rank = rank_, size = size_;
    watchdog_ = std::make_unique<CollectiveWatchdog>(
        timeout_seconds, [rank, size](const std::string& message) {
          std::fprintf(stderr, "crank: error on rank %d of %d: %s\n", rank, size, message.c_str());
          std::fflush(stderr);
          // From the watchdog's thread while the main thread is blocked in MPI: OpenMPI's
          // MPI_Abort only asks the launcher to end the job, which it does.
          MPI_Abort(MPI_COMM_WORLD, 4);
          std::_Exit(4);
        });
    watchdog_->Start();
  }
  void SetPhase(std::string phase) override {
    if (watchdog_ != nullptr) watchdog_->SetPhase(std::move(phase));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string Describe() const override { return fmt::format("mpi ({} ranks)", size_); }

  void AllToAllV(const std::vector<std::string>& send, std::vector<std::string>* recv) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), "MPI_Alltoallv");
    CRANK_REQUIRE(static_cast<int>(send.size()) == size_,
                  "AllToAllV: expected one buffer per rank");
    std::vector<int> send_counts(size_), recv_counts(size_), sd, rd;
    std::string packed;
    for (int d = 0; d < size_; ++d) {
      send_counts[d] = CountOf(send[d].size(), "MPI_Alltoallv");
      packed += send[d];
    }
    Check(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT,
                       MPI_COMM_WORLD),
          "MPI_Alltoall");
    Displacements(send_counts, &sd, "MPI_Alltoallv");
    const int64_t total = Displacements(recv_counts, &rd, "MPI_Alltoallv");
    std::string in(static_cast<size_t>(total), '\0');
    Check(MPI_Alltoallv(packed.data(), send_counts.data(), sd.data(), MPI_BYTE, in.data(),
                        recv_counts.data(), rd.data(), MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Alltoallv");
    recv->resize(size_);
    for (int s = 0; s < size_; ++s) (*recv)[s].assign(in, rd[s], recv_counts[s]);
  }

  void AllGatherV(const std::string& mine, std::vector<std::string>* all) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), "MPI_Allgatherv");
    int count = CountOf(mine.size(), "MPI_Allgatherv");
    std::vector<int> counts(size_), displs;
    Check(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD),
          "MPI_Allgather");
    const int64_t total = Displacements(counts, &displs, "MPI_Allgatherv");
    std::string in(static_cast<size_t>(total), '\0');
    Check(MPI_Allgatherv(mine.data(), count, MPI_BYTE, in.data(), counts.data(), displs.data(),
                         MPI_BYTE, MPI_COMM_WORLD),
          "MPI_Allgatherv");
    all->resize(size_);
    for (int r = 0; r < size_; ++r) (*all)[r].assign(in, displs[r], counts[r]);
  }

  void GatherV(const std::string& mine, int root, std::vector<std::string>* all) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), "MPI_Gatherv");
    CRANK_REQUIRE(root >= 0 && root < size_, "GatherV: the root must be a rank of the group");
    int count = CountOf(mine.size(), "MPI_Gatherv");
    std::vector<int> counts(size_), displs;
    Check(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD),
          "MPI_Gather");
    std::string in;
    if (rank_ == root)
      in.resize(static_cast<size_t>(Displacements(counts, &displs, "MPI_Gatherv")));
    Check(MPI_Gatherv(mine.data(), count, MPI_BYTE, in.data(), counts.data(), displs.data(),
                      MPI_BYTE, root, MPI_COMM_WORLD),
          "MPI_Gatherv");
    all->clear();
    if (rank_ != root) return;
    all->resize(size_);
    for (int r = 0; r < size_; ++r) (*all)[r].assign(in, displs[r], counts[r]);
  }

  void Broadcast(std::string* data, int root) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), "MPI_Bcast");
    CRANK_REQUIRE(root >= 0 && root < size_, "Broadcast: the root must be a rank of the group");
    int64_t n = static_cast<int64_t>(data->size());
    Check(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    data->resize(static_cast<size_t>(n));
    Check(
        MPI_Bcast(data->data(), CountOf(data->size(), "MPI_Bcast"), MPI_BYTE, root, MPI_COMM_WORLD),
        "MPI_Bcast");
  }

  void Barrier() override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), "MPI_Barrier");
    Check(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }
  double CommunicationSeconds() const override { return seconds_; }

  [[noreturn]] void Abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
  double seconds_ = 0.0;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
};

}  // namespace

std::unique_ptr<ProcessGroup> MakeMpiProcessGroup() { return std::make_unique<MpiProcessGroup>(); }

}  // namespace crank
