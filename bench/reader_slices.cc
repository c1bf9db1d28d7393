// reader_slices: the reader's CPU on one rank of a hybrid-parallel run (docs/distributed.md,
// "Global batch semantics"). Reads a Criteo TSV with the StreamingReader as rank R of N, in
// global batches of B rows, one of two ways:
//   global  every rank reads (parses and maps) every row of each global batch and would take
//           its slice of it (the feeding before batch slices)
//   slices  ReaderOptions::batch_slices: every rank scans every line, but parses and maps only
//           its slice of each global batch
// and prints one JSON line: the process's CPU seconds (the reader's thread and the consumer),
// the wall seconds, and the examples and batches delivered.
// Usage: reader_slices FILE MODE(global|slices) RANK N BATCH

#include <sys/resource.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>

#include "crank/data/batch_reader.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"

namespace {

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return u.ru_utime.tv_sec + u.ru_stime.tv_sec + 1e-6 * (u.ru_utime.tv_usec + u.ru_stime.tv_usec);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 6) {
    std::fprintf(stderr, "usage: reader_slices FILE global|slices RANK N BATCH\n");
    return 2;
  }
  const std::string file = argv[1], mode = argv[2];
  const int rank = std::atoi(argv[3]), n = std::atoi(argv[4]);
  const int64_t batch = std::atoll(argv[5]);
  if (mode != "global" && mode != "slices") {
    std::fprintf(stderr, "reader_slices: mode must be global or slices, got %s\n", mode.c_str());
    return 2;
  }
  const auto mapping = std::make_shared<const crank::DataMapping>(
      crank::DataMapping::Build(crank::DataConfig{}, {}));
  crank::ReaderOptions ro;
  ro.batch_size = batch;
  if (mode == "slices") {
    ro.rank = rank;
    ro.world_size = n;
    ro.batch_slices = true;
  }
  const double cpu0 = CpuSeconds();
  const auto t0 = std::chrono::steady_clock::now();
  auto reader = crank::MakeBatchReader(mapping, {file}, ro, /*in_memory=*/false);
  crank::Batch b;
  int64_t examples = 0, batches = 0;
  while (reader->Next(&b)) {
    examples += b.size();
    ++batches;
  }
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  std::printf(
      "{\"mode\": \"%s\", \"rank\": %d, \"ranks\": %d, \"batch\": %lld, \"cpu_seconds\": %.3f, "
      "\"wall_seconds\": %.3f, \"examples\": %lld, \"batches\": %lld}\n",
      mode.c_str(), rank, n, static_cast<long long>(batch), CpuSeconds() - cpu0, wall,
      static_cast<long long>(examples), static_cast<long long>(batches));
  return 0;
}
