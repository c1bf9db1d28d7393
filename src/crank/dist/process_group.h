#ifndef CRANK_DIST_PROCESS_GROUP_H_
#define CRANK_DIST_PROCESS_GROUP_H_

// The processes of one training job and the collectives they run together (the MPI
// communicator of `mpirun -np N`): a small interface with two implementations,
//
//   LocalProcessGroup  one process (rank 0 of 1); every collective is a copy. No MPI needed.
//   MpiProcessGroup    MPI_COMM_WORLD (dist/mpi_process_group.cc, built only when MPI is found).
//
// MakeProcessGroup() picks: MPI when the process was started by mpirun (OpenMPI's or PMIx's
// environment variables are set) and the build has MPI, else the local group. A single process
// never initialises MPI.
//
// Every collective is called by every rank of the group, in the same order, from one thread
// (MPI_THREAD_FUNNELED). Buffers are bytes (std::string): the callers serialise. A failed MPI
// call throws IoError naming the call; Abort() ends the whole job (used when one rank fails, so
// the others do not wait forever in a collective).
//
// AllReduceSum is deterministic and the same bits on every rank: each rank sums one chunk of
// the buffer over the ranks in rank order (a reduce-scatter through AllToAllV), then the chunks
// are gathered (AllGatherV). The result does not depend on MPI's choice of reduction algorithm.
// Every rank knows the chunks' sizes, so it costs two MPI calls.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace crank {

class ProcessGroup {
 public:
  virtual ~ProcessGroup() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // "mpi (4 ranks)" or "single process".
  virtual std::string Describe() const = 0;

  // send: size() buffers, send[d] goes to rank d -> *recv: size() buffers, (*recv)[s] came
  // from rank s. Each buffer below 2 GiB (IoError otherwise).
  // MPI: two calls, the sizes and then the data.
  virtual void AllToAllV(const std::vector<std::string>& send, std::vector<std::string>* recv) = 0;
  // The same when every rank knows what it receives: recv_bytes[s] bytes from rank s, which
  // must be the size of the buffer rank s sends to this one (IoError or CRANK_CHECK otherwise).
  // MPI: one call.
  virtual void AllToAllV(const std::vector<std::string>& send,
                         const std::vector<int64_t>& recv_bytes,
                         std::vector<std::string>* recv) = 0;
  // mine -> *all: size() buffers, (*all)[r] is rank r's. MPI: two calls.
  virtual void AllGatherV(const std::string& mine, std::vector<std::string>* all) = 0;
  // The same when every rank knows every rank's size: bytes[r] is rank r's. MPI: one call.
  virtual void AllGatherV(const std::string& mine, const std::vector<int64_t>& bytes,
                          std::vector<std::string>* all) = 0;
  // mine -> on root, *all: size() buffers, (*all)[r] is rank r's; elsewhere *all is cleared.
  virtual void GatherV(const std::string& mine, int root, std::vector<std::string>* all) = 0;
  // *data on root -> *data on every rank.
  virtual void Broadcast(std::string* data, int root) = 0;
  virtual void Barrier() = 0;
  // Ends every process of the job with `code` (MPI_Abort); the local group calls std::exit.
  [[noreturn]] virtual void Abort(int code) = 0;
  // Wall seconds this rank has spent inside collectives (transfer and waiting for the other
  // ranks); 0 for the local group.
  virtual double CommunicationSeconds() const { return 0.0; }
  // MPI calls this rank has made to communicate (every MPI_Alltoall, MPI_Alltoallv, ...); 0
  // for the local group.
  virtual int64_t CommunicationCalls() const { return 0; }

  // Watches this rank's collectives (a CollectiveWatchdog, dist/watchdog.h): a wait in one
  // collective longer than `timeout_seconds` prints "crank: error on rank R of N: no progress
  // in ..." on stderr and ends the whole job (Abort with exit code 4). 0: no watchdog. Call
  // once, before the collectives to watch. The local group has nothing to wait for and ignores
  // it.
  virtual void StartWatchdog(double timeout_seconds) { (void)timeout_seconds; }
  // What the run is doing ("training step 12", "checkpoint"), named in the watchdog's message.
  virtual void SetPhase(std::string phase) { (void)phase; }
};

class LocalProcessGroup : public ProcessGroup {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  std::string Describe() const override { return "single process"; }
  void AllToAllV(const std::vector<std::string>& send, std::vector<std::string>* recv) override;
  void AllToAllV(const std::vector<std::string>& send, const std::vector<int64_t>& recv_bytes,
                 std::vector<std::string>* recv) override;
  void AllGatherV(const std::string& mine, std::vector<std::string>* all) override;
  void AllGatherV(const std::string& mine, const std::vector<int64_t>& bytes,
                  std::vector<std::string>* all) override;
  void GatherV(const std::string& mine, int root, std::vector<std::string>* all) override;
  void Broadcast(std::string* data, int root) override;
  void Barrier() override {}
  [[noreturn]] void Abort(int code) override;
};

// True when the process was started by an MPI launcher (OMPI_COMM_WORLD_SIZE, PMIX_RANK or
// PMI_RANK is set).
bool LaunchedByMpiRun();
// True when this build has the MPI backend.
bool HaveMpi();

// The MPI group when LaunchedByMpiRun() and HaveMpi(); the local group otherwise (started by
// mpirun without the MPI backend: IoError, since N copies would each train alone). The first
// call under mpirun initialises MPI; the group finalises it when destroyed. One per process.
std::unique_ptr<ProcessGroup> MakeProcessGroup();

// Element-wise sum over the ranks of data[0 .. n), deterministic and identical on every rank
// (see the top of this file). double accumulates; float sums in float in rank order.
void AllReduceSum(ProcessGroup& group, float* data, int64_t n);
void AllReduceSum(ProcessGroup& group, double* data, int64_t n);
// Both at once, in one reduce-scatter and one all-gather (the floats' bits are those of the
// float-only call, the doubles' those of the double-only call).
void AllReduceSum(ProcessGroup& group, float* floats, int64_t num_floats, double* doubles,
                  int64_t num_doubles);

}  // namespace crank

#endif  // CRANK_DIST_PROCESS_GROUP_H_
