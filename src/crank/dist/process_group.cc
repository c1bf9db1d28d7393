#include "crank/dist/process_group.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdlib>
#include <cstring>

#include "crank/base/error.h"

namespace crank {

#ifdef CRANK_HAVE_MPI
// dist/mpi_process_group.cc
std::unique_ptr<ProcessGroup> MakeMpiProcessGroup();
bool HaveMpi() { return true; }
#else
bool HaveMpi() { return false; }
#endif

void LocalProcessGroup::AllToAllV(const std::vector<std::string>& send,
                                  std::vector<std::string>* recv) {
  CRANK_REQUIRE(send.size() == 1, "AllToAllV: expected one buffer per rank");
  *recv = send;
}

void LocalProcessGroup::AllGatherV(const std::string& mine, std::vector<std::string>* all) {
  all->assign(1, mine);
}

void LocalProcessGroup::GatherV(const std::string& mine, int root, std::vector<std::string>* all) {
  CRANK_REQUIRE(root == 0, "GatherV: the root must be a rank of the group");
  all->assign(1, mine);
}

void LocalProcessGroup::Broadcast(std::string* data, int root) {
  CRANK_REQUIRE(root == 0, "Broadcast: the root must be a rank of the group");
}

void LocalProcessGroup::Abort(int code) { std::exit(code); }

bool LaunchedByMpiRun() {
  for (const char* v : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_RANK"}) {
    if (std::getenv(v) != nullptr) return true;
  }
  return false;
}

std::unique_ptr<ProcessGroup> MakeProcessGroup() {
  if (!LaunchedByMpiRun()) return std::make_unique<LocalProcessGroup>();
#ifdef CRANK_HAVE_MPI
  return MakeMpiProcessGroup();
#else
  const char* n = std::getenv("OMPI_COMM_WORLD_SIZE");
  if (n != nullptr && std::string(n) == "1") return std::make_unique<LocalProcessGroup>();
  throw IoError(
      "this process was started by mpirun, but this crank was built without MPI (install "
      "libopenmpi-dev and rebuild), so its ranks cannot train together");
#endif
}

namespace {

// The chunk [begin, end) of n elements that rank r reduces.
std::pair<int64_t, int64_t> Chunk(int64_t n, int r, int size) {
  return {n * r / size, n * (r + 1) / size};
}

template <typename T>
void AllReduceSumImpl(ProcessGroup& group, T* data, int64_t n) {
  const int size = group.size();
  if (size == 1 || n == 0) return;
  std::vector<std::string> send(size), recv;
  for (int d = 0; d < size; ++d) {
    const auto [b, e] = Chunk(n, d, size);
    send[d].assign(reinterpret_cast<const char*>(data + b), sizeof(T) * (e - b));
  }
  group.AllToAllV(send, &recv);
  const auto [b, e] = Chunk(n, group.rank(), size);
  std::vector<T> sum(e - b, T(0));
  for (int s = 0; s < size; ++s) {  // rank order: the same bits on every rank
    CRANK_CHECK(recv[s].size() == sizeof(T) * sum.size());
    const T* part = reinterpret_cast<const T*>(recv[s].data());
    for (size_t i = 0; i < sum.size(); ++i) sum[i] += part[i];
  }
  std::vector<std::string> all;
  group.AllGatherV(std::string(reinterpret_cast<const char*>(sum.data()), sizeof(T) * sum.size()),
                   &all);
  for (int r = 0; r < size; ++r) {
    const auto [rb, re] = Chunk(n, r, size);
    CRANK_CHECK(all[r].size() == sizeof(T) * (re - rb));
    std::memcpy(data + rb, all[r].data(), all[r].size());
  }
}

}  // namespace

void AllReduceSum(ProcessGroup& group, float* data, int64_t n) { AllReduceSumImpl(group, data, n); }
void AllReduceSum(ProcessGroup& group, double* data, int64_t n) {
  AllReduceSumImpl(group, data, n);
}

}  // namespace crank
