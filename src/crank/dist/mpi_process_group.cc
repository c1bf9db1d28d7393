// The MPI backend of ProcessGroup (dist/process_group.h): MPI_COMM_WORLD of OpenMPI. Compiled
// only when CMake finds MPI (CRANK_HAVE_MPI).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <mpi.h>

#include <chrono>
#include <cstdio>
#include <limits>
#include <memory>
#include <thread>
#include <vector>

#include "crank/base/error.h"
#include "crank/dist/process_group.h"
#include "crank/dist/watchdog.h"

namespace crank {
namespace {

// What each rank publishes for the others' watchdogs to read without entering a collective
// (MPI one-sided, passive target): the number of collectives it has entered, and a heartbeat
// its watchdog thread raises on every poll.
struct Progress {
  int64_t entered = 0;
  int64_t heartbeat = 0;
};

// One collective: counts it in *entered (and in `published`, the window's copy, when there is
// one), adds the wall time of its scope to *total and tells the watchdog (when there is one)
// that the rank waits in `name` until the scope ends.
class ScopedCollective {
 public:
  ScopedCollective(double* total, CollectiveWatchdog* watchdog, int64_t* entered,
                   Progress* published, const char* name)
      : total_(total), watchdog_(watchdog), t0_(std::chrono::steady_clock::now()) {
    ++*entered;
    if (published != nullptr) __atomic_store_n(&published->entered, *entered, __ATOMIC_RELEASE);
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
      // MULTIPLE: the watchdog's thread reads the peers' progress while the main thread waits
      // in a collective.
      Check(MPI_Init_thread(nullptr, nullptr, MPI_THREAD_MULTIPLE, &provided_), "MPI_Init_thread");
      owns_mpi_ = true;
    } else {
      MPI_Query_thread(&provided_);
    }
    // Errors come back as codes (turned into IoError) instead of aborting inside MPI.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    // Every rank's Progress in a window the others read (a collective, so on every rank alike:
    // provided_ is the library's, the same everywhere).
    if (size_ > 1 && provided_ == MPI_THREAD_MULTIPLE) {
      Progress* base = nullptr;
      if (MPI_Win_allocate(sizeof(Progress), 1, MPI_INFO_NULL, MPI_COMM_WORLD, &base, &window_) ==
          MPI_SUCCESS) {
        *base = Progress{};
        published_ = base;
        MPI_Win_set_errhandler(window_, MPI_ERRORS_RETURN);
        MPI_Win_lock_all(MPI_MODE_NOCHECK, window_);  // one passive-target epoch for the run
      }
    }
  }
  ~MpiProcessGroup() override {
    watchdog_.reset();
    if (published_ != nullptr) {
      MPI_Win_unlock_all(window_);
      MPI_Win_free(&window_);
    }
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
    if (published_ != nullptr) {
      watchdog_->SetPeerHooks(
          [this] { __atomic_add_fetch(&published_->heartbeat, 1, __ATOMIC_RELEASE); },
          [this] { return MissingRanks(); });
    }
    watchdog_->Start();
  }
  void SetPhase(std::string phase) override {
    if (watchdog_ != nullptr) watchdog_->SetPhase(std::move(phase));
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  std::string Describe() const override { return fmt::format("mpi ({} ranks)", size_); }

  void AllToAllV(const std::vector<std::string>& send, std::vector<std::string>* recv) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Alltoallv");
    CRANK_REQUIRE(static_cast<int>(send.size()) == size_,
                  "AllToAllV: expected one buffer per rank");
    std::vector<int> send_counts, recv_counts(size_);
    Pack(send, &packed_, &send_counts);
    Call(MPI_Alltoall(send_counts.data(), 1, MPI_INT, recv_counts.data(), 1, MPI_INT,
                      MPI_COMM_WORLD),
         "MPI_Alltoall");
    ExchangeData(packed_, send_counts, recv_counts, recv);
  }

  void AllToAllV(const std::vector<std::string>& send, const std::vector<int64_t>& recv_bytes,
                 std::vector<std::string>* recv) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Alltoallv");
    CRANK_REQUIRE(
        static_cast<int>(send.size()) == size_ && static_cast<int>(recv_bytes.size()) == size_,
        "AllToAllV: expected one buffer and one size per rank");
    std::vector<int> send_counts, recv_counts(size_);
    Pack(send, &packed_, &send_counts);
    for (int s = 0; s < size_; ++s) {
      recv_counts[s] = CountOf(static_cast<size_t>(recv_bytes[s]), "MPI_Alltoallv");
    }
    ExchangeData(packed_, send_counts, recv_counts, recv);
  }

  void AllGatherV(const std::string& mine, const std::vector<int64_t>& bytes,
                  std::vector<std::string>* all) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Allgatherv");
    CRANK_REQUIRE(static_cast<int>(bytes.size()) == size_,
                  "AllGatherV: expected one size per rank");
    CRANK_CHECK(static_cast<int64_t>(mine.size()) == bytes[rank_],
                "AllGatherV: {} bytes, {} expected", mine.size(), bytes[rank_]);
    std::vector<int> counts(size_), displs;
    for (int r = 0; r < size_; ++r) {
      counts[r] = CountOf(static_cast<size_t>(bytes[r]), "MPI_Allgatherv");
    }
    const int64_t total = Displacements(counts, &displs, "MPI_Allgatherv");
    char* in = ReceiveBuffer(total);
    Call(MPI_Allgatherv(mine.data(), counts[rank_], MPI_BYTE, in, counts.data(),
                        displs.data(), MPI_BYTE, MPI_COMM_WORLD),
         "MPI_Allgatherv");
    all->resize(size_);
    for (int r = 0; r < size_; ++r) (*all)[r].assign(in + displs[r], counts[r]);
  }

  void AllGatherV(const std::string& mine, std::vector<std::string>* all) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Allgatherv");
    int count = CountOf(mine.size(), "MPI_Allgatherv");
    std::vector<int> counts(size_), displs;
    Call(MPI_Allgather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, MPI_COMM_WORLD),
         "MPI_Allgather");
    const int64_t total = Displacements(counts, &displs, "MPI_Allgatherv");
    char* in = ReceiveBuffer(total);
    Call(MPI_Allgatherv(mine.data(), count, MPI_BYTE, in, counts.data(), displs.data(),
                        MPI_BYTE, MPI_COMM_WORLD),
         "MPI_Allgatherv");
    all->resize(size_);
    for (int r = 0; r < size_; ++r) (*all)[r].assign(in + displs[r], counts[r]);
  }

  void GatherV(const std::string& mine, int root, std::vector<std::string>* all) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Gatherv");
    CRANK_REQUIRE(root >= 0 && root < size_, "GatherV: the root must be a rank of the group");
    int count = CountOf(mine.size(), "MPI_Gatherv");
    std::vector<int> counts(size_), displs;
    Call(MPI_Gather(&count, 1, MPI_INT, counts.data(), 1, MPI_INT, root, MPI_COMM_WORLD),
         "MPI_Gather");
    std::string in;
    if (rank_ == root)
      in.resize(static_cast<size_t>(Displacements(counts, &displs, "MPI_Gatherv")));
    Call(MPI_Gatherv(mine.data(), count, MPI_BYTE, in.data(), counts.data(), displs.data(),
                     MPI_BYTE, root, MPI_COMM_WORLD),
         "MPI_Gatherv");
    all->clear();
    if (rank_ != root) return;
    all->resize(size_);
    for (int r = 0; r < size_; ++r) (*all)[r].assign(in, displs[r], counts[r]);
  }

  void Broadcast(std::string* data, int root) override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Bcast");
    CRANK_REQUIRE(root >= 0 && root < size_, "Broadcast: the root must be a rank of the group");
    int64_t n = static_cast<int64_t>(data->size());
    Call(MPI_Bcast(&n, 1, MPI_INT64_T, root, MPI_COMM_WORLD), "MPI_Bcast");
    data->resize(static_cast<size_t>(n));
    Call(
        MPI_Bcast(data->data(), CountOf(data->size(), "MPI_Bcast"), MPI_BYTE, root, MPI_COMM_WORLD),
        "MPI_Bcast");
  }

  void Barrier() override {
    const ScopedCollective collective(&seconds_, watchdog_.get(), &entered_, published_,
                                      "MPI_Barrier");
    Call(MPI_Barrier(MPI_COMM_WORLD), "MPI_Barrier");
  }
  double CommunicationSeconds() const override { return seconds_; }
  int64_t CommunicationCalls() const override { return calls_; }

  [[noreturn]] void Abort(int code) override {
    MPI_Abort(MPI_COMM_WORLD, code);
    std::_Exit(code);
  }

 private:
  // send -> *packed, the buffers end to end, and *send_counts, their sizes.
  // `total` bytes to receive into, valid until the next collective. The buffer only grows: a
  // step's collectives reuse the pages of the previous step's instead of faulting in fresh
  // ones (a page fault costs microseconds, several hundred per megabyte).
  char* ReceiveBuffer(int64_t total) {
    if (static_cast<int64_t>(in_.size()) < total) in_.resize(static_cast<size_t>(total));
    return in_.data();
  }

  void Pack(const std::vector<std::string>& send, std::string* packed,
            std::vector<int>* send_counts) const {
    send_counts->resize(size_);
    packed->clear();  // keeps its capacity
    for (int d = 0; d < size_; ++d) {
      (*send_counts)[d] = CountOf(send[d].size(), "MPI_Alltoallv");
      *packed += send[d];
    }
  }

  // The data of an all-to-all whose sizes every rank knows (one MPI_Alltoallv) -> *recv.
  void ExchangeData(const std::string& packed, const std::vector<int>& send_counts,
                    const std::vector<int>& recv_counts, std::vector<std::string>* recv) {
    std::vector<int> sd, rd;
    Displacements(send_counts, &sd, "MPI_Alltoallv");
    const int64_t total = Displacements(recv_counts, &rd, "MPI_Alltoallv");
    char* in = ReceiveBuffer(total);
    Call(MPI_Alltoallv(packed.data(), send_counts.data(), sd.data(), MPI_BYTE, in,
                       recv_counts.data(), rd.data(), MPI_BYTE, MPI_COMM_WORLD),
         "MPI_Alltoallv");
    recv->resize(size_);
    for (int s = 0; s < size_; ++s) (*recv)[s].assign(in + rd[s], recv_counts[s]);
  }

  // One MPI call that communicates: counted, its error turned into IoError.
  void Call(int rc, const char* call) {
    ++calls_;
    Check(rc, call);
  }

  // Sleeps `seconds` while raising this rank's heartbeat every 10 ms: the other ranks'
  // watchdogs, diagnosing at the same time, see this one alive.
  void Beat(double seconds) {
    const auto end = std::chrono::steady_clock::now() + std::chrono::duration<double>(seconds);
    do {
      __atomic_add_fetch(&published_->heartbeat, 1, __ATOMIC_RELEASE);
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } while (std::chrono::steady_clock::now() < end);
  }

  // Every other rank's Progress, read without its help (passive target); a rank whose read
  // does not complete within `wait_seconds` stays at {-1, -1}.
  std::vector<Progress> ReadPeers(double wait_seconds) {
    std::vector<Progress> peers(size_, Progress{-1, -1});
    std::vector<MPI_Request> requests(size_, MPI_REQUEST_NULL);
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      if (MPI_Rget(&peers[r], sizeof(Progress), MPI_BYTE, r, 0, sizeof(Progress), MPI_BYTE, window_,
                   &requests[r]) != MPI_SUCCESS) {
        requests[r] = MPI_REQUEST_NULL;
      }
    }
    std::vector<bool> done(size_, false);
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::duration<double>(wait_seconds);
    int pending = 0;
    do {
      pending = 0;
      for (int r = 0; r < size_; ++r) {
        if (requests[r] == MPI_REQUEST_NULL || done[r]) continue;
        int flag = 0;
        if (MPI_Test(&requests[r], &flag, MPI_STATUS_IGNORE) != MPI_SUCCESS) continue;
        if (flag) {
          done[r] = true;
        } else {
          ++pending;
        }
      }
      if (pending > 0) Beat(0.01);
    } while (pending > 0 && std::chrono::steady_clock::now() < deadline);
    // A read that did not complete may still land: keep its buffer alive (the job is ending).
    if (pending > 0) abandoned_.push_back(std::move(peers));
    std::vector<Progress> out(size_, Progress{-1, -1});
    const std::vector<Progress>& src = pending > 0 ? abandoned_.back() : peers;
    for (int r = 0; r < size_; ++r) {
      if (done[r]) out[r] = src[r];
    }
    return out;
  }

  // For the watchdog's message: the ranks that have not entered the collective this rank
  // waits in (their count of entered collectives is lower), and those whose heartbeat did not
  // move over three polls of their watchdogs (stopped, or frozen as a whole), or that did not
  // answer; "" when every rank is in the collective and alive.
  std::string MissingRanks() {
    const int64_t mine = __atomic_load_n(&published_->entered, __ATOMIC_ACQUIRE);
    const double poll = watchdog_->poll_seconds();
    const std::vector<Progress> before = ReadPeers(2.0);
    Beat(3 * poll);
    const std::vector<Progress> after = ReadPeers(2.0);
    std::vector<std::string> behind, frozen, silent;
    for (int r = 0; r < size_; ++r) {
      if (r == rank_) continue;
      if (after[r].entered < 0) {
        silent.push_back(std::to_string(r));
      } else if (after[r].entered < mine) {
        behind.push_back(fmt::format("rank {} (entered {} collectives{})", r, after[r].entered,
                                     after[r].heartbeat == before[r].heartbeat
                                         ? ", no heartbeat: stopped or frozen"
                                         : ", alive: busy outside MPI"));
      } else if (before[r].heartbeat >= 0 && after[r].heartbeat == before[r].heartbeat) {
        frozen.push_back(std::to_string(r));
      }
    }
    std::vector<std::string> parts;
    if (!behind.empty()) {
      parts.push_back(fmt::format("{} did not arrive (this rank waits in its collective {})",
                                  fmt::join(behind, ", "), mine));
    }
    if (!frozen.empty()) {
      parts.push_back(fmt::format(
          "{} {} {} in it too but {} no heartbeat for {:.1f} s: stopped or frozen",
          frozen.size() == 1 ? "rank" : "ranks", fmt::join(frozen, ", "),
          frozen.size() == 1 ? "is" : "are", frozen.size() == 1 ? "shows" : "show", 3 * poll));
    }
    if (!silent.empty()) {
      parts.push_back(fmt::format("{} {} did not answer the progress query",
                                  silent.size() == 1 ? "rank" : "ranks", fmt::join(silent, ", ")));
    }
    return fmt::format("{}", fmt::join(parts, "; "));
  }

  int rank_ = 0;
  int size_ = 1;
  bool owns_mpi_ = false;
  int provided_ = 0;  // MPI's thread level
  double seconds_ = 0.0;
  int64_t calls_ = 0;    // MPI calls that communicate
  int64_t entered_ = 0;  // collectives entered by this rank
  MPI_Win window_ = MPI_WIN_NULL;
  Progress* published_ = nullptr;  // this rank's Progress in window_, or null: no window
  std::vector<std::vector<Progress>> abandoned_;
  std::unique_ptr<CollectiveWatchdog> watchdog_;
  std::string packed_;  // AllToAllV's send buffer, reused
  std::string in_;      // the receive buffer of AllToAllV and AllGatherV, reused (ReceiveBuffer)
};

}  // namespace

std::unique_ptr<ProcessGroup> MakeMpiProcessGroup() { return std::make_unique<MpiProcessGroup>(); }

}  // namespace crank
