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

void LocalProcessGroup::AllToAllV(const std::vector<std::string>& send,
                                  const std::vector<int64_t>& recv_bytes,
                                  std::vector<std::string>* recv) {
  CRANK_REQUIRE(send.size() == 1 && recv_bytes.size() == 1,
                "AllToAllV: expected one buffer per rank");
  CRANK_CHECK(static_cast<int64_t>(send[0].size()) == recv_bytes[0],
              "AllToAllV: {} bytes sent, {} expected", send[0].size(), recv_bytes[0]);
  *recv = send;
}

void LocalProcessGroup::AllGatherV(const std::string& mine, std::vector<std::string>* all) {
  all->assign(1, mine);
}

void LocalProcessGroup::AllGatherV(const std::string& mine, const std::vector<int64_t>& bytes,
                                   std::vector<std::string>* all) {
  CRANK_REQUIRE(bytes.size() == 1, "AllGatherV: expected one size per rank");
  CRANK_CHECK(static_cast<int64_t>(mine.size()) == bytes[0], "AllGatherV: {} bytes, {} expected",
              mine.size(), bytes[0]);
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

// Rank r's part of the buffers: its chunk of the floats, then its chunk of the doubles.
int64_t PartBytes(int64_t num_floats, int64_t num_doubles, int r, int size) {
  const auto [fb, fe] = Chunk(num_floats, r, size);
  const auto [db, de] = Chunk(num_doubles, r, size);
  return static_cast<int64_t>(sizeof(float)) * (fe - fb) +
         static_cast<int64_t>(sizeof(double)) * (de - db);
}

template <typename T>
void Append(std::string* out, const T* data, std::pair<int64_t, int64_t> range) {
  out->append(reinterpret_cast<const char*>(data + range.first),
              sizeof(T) * static_cast<size_t>(range.second - range.first));
}

// Sums this rank's chunk of T over the parts in rank order (the same bits on every rank) into
// *sum, reading each part at *at and advancing it.
template <typename T>
void SumChunk(const std::vector<std::string>& parts, std::vector<size_t>* at, int64_t count,
              std::vector<T>* sum) {
  sum->assign(static_cast<size_t>(count), T(0));
  for (size_t s = 0; s < parts.size(); ++s) {
    CRANK_CHECK((*at)[s] + sizeof(T) * sum->size() <= parts[s].size());
    const char* base = parts[s].data() + (*at)[s];
    for (size_t i = 0; i < sum->size(); ++i) {
      T v;
      std::memcpy(&v, base + sizeof(T) * i, sizeof(T));
      (*sum)[i] += v;
    }
    (*at)[s] += sizeof(T) * sum->size();
  }
}

// The buffers of AllReduceSum, kept from call to call on the calling thread: a training step
// all-reduces the same sizes every time, so after the first step no buffer is allocated and no
// page is faulted in again (on some virtual machines a page fault costs several microseconds,
// hundreds of them per megabyte).
struct AllReduceBuffers {
  std::vector<std::string> send, recv, all;
  std::string mine;
  std::vector<float> fsum;
  std::vector<double> dsum;
};

}  // namespace

void AllReduceSum(ProcessGroup& group, float* floats, int64_t num_floats, double* doubles,
                  int64_t num_doubles) {
  const int size = group.size();
  if (size == 1 || num_floats + num_doubles == 0) return;
  const int me = group.rank();
  thread_local AllReduceBuffers b;
  // Reduce-scatter: rank d gets every rank's part d and sums it.
  b.send.resize(size);
  std::vector<int64_t> part_bytes(size);
  for (int d = 0; d < size; ++d) {
    b.send[d].clear();
    Append(&b.send[d], floats, Chunk(num_floats, d, size));
    Append(&b.send[d], doubles, Chunk(num_doubles, d, size));
    part_bytes[d] = PartBytes(num_floats, num_doubles, d, size);
  }
  group.AllToAllV(b.send, std::vector<int64_t>(size, part_bytes[me]), &b.recv);
  const auto [fb, fe] = Chunk(num_floats, me, size);
  const auto [db, de] = Chunk(num_doubles, me, size);
  std::vector<size_t> at(size, 0);
  SumChunk<float>(b.recv, &at, fe - fb, &b.fsum);
  SumChunk<double>(b.recv, &at, de - db, &b.dsum);
  b.mine.clear();
  Append(&b.mine, b.fsum.data(), {0, fe - fb});
  Append(&b.mine, b.dsum.data(), {0, de - db});
  // All-gather the sums.
  group.AllGatherV(b.mine, part_bytes, &b.all);
  const std::vector<std::string>& all = b.all;
  for (int r = 0; r < size; ++r) {
    const auto [rfb, rfe] = Chunk(num_floats, r, size);
    const auto [rdb, rde] = Chunk(num_doubles, r, size);
    CRANK_CHECK(static_cast<int64_t>(all[r].size()) == part_bytes[r]);
    const size_t float_bytes = sizeof(float) * static_cast<size_t>(rfe - rfb);
    if (float_bytes > 0) std::memcpy(floats + rfb, all[r].data(), float_bytes);
    if (rde > rdb) {
      std::memcpy(doubles + rdb, all[r].data() + float_bytes,
                  sizeof(double) * static_cast<size_t>(rde - rdb));
    }
  }
}

void AllReduceSum(ProcessGroup& group, float* data, int64_t n) {
  AllReduceSum(group, data, n, nullptr, 0);
}
void AllReduceSum(ProcessGroup& group, double* data, int64_t n) {
  AllReduceSum(group, nullptr, 0, data, n);
}

}  // namespace crank
