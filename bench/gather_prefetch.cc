// gather_prefetch: how far ahead the embedding forward should prefetch its table rows.
//
// The loop of EmbeddingBagForward for one-id bags (kernels/embedding_bag.cc: zero the output row,
// prefetch the row DISTANCE positions ahead, add the row), copied here with the distance as a
// template argument, over crank's default inference shape: 26 tables of 100,001 x 16 fp32 rows
// in one crank::Tensor (2 MiB pages, as the model's tables), batches of 2048 random ids per
// table, one thread. Prints nanoseconds per lookup for each distance, REPEATS times (the
// distances interleaved in each repeat, so a slower moment of a shared machine hits them all).
//
// Usage: gather_prefetch [REPEATS]   (default 5)

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include "crank/base/rng.h"
#include "crank/tensor/tensor.h"

namespace {

constexpr int64_t kRows = 100001, kDim = 16, kTables = 26, kBatch = 2048, kBatches = 40;

template <int kDistance>
void Gather(const float* table, const int64_t* ids, int64_t n, float* out) {
  for (int64_t k = 0; k < n; ++k) {
    if (kDistance > 0 && k + kDistance < n) __builtin_prefetch(table + ids[k + kDistance] * kDim);
    const float* row = table + ids[k] * kDim;
    float* o = out + k * kDim;
    for (int64_t e = 0; e < kDim; ++e) o[e] = 0.0f;
    for (int64_t e = 0; e < kDim; ++e) o[e] += row[e];
  }
}

}  // namespace

int main(int argc, char** argv) {
  const int repeats = argc > 1 ? std::atoi(argv[1]) : 5;
  crank::Tensor tables({kTables * kRows, kDim});
  crank::Rng rng(1);
  for (int64_t i = 0; i < tables.size(); ++i) tables[i] = rng.UniformFloat();
  std::vector<int64_t> ids(static_cast<size_t>(kBatches * kTables * kBatch));
  for (int64_t& id : ids) id = static_cast<int64_t>(rng.UniformInt(kRows));
  std::vector<float> out(static_cast<size_t>(kTables * kBatch * kDim));
  const auto ns_per_lookup = [&](auto gather) {
    const auto t0 = std::chrono::steady_clock::now();
    for (int64_t b = 0; b < kBatches; ++b) {
      for (int64_t t = 0; t < kTables; ++t) {
        gather(tables.data() + t * kRows * kDim, ids.data() + (b * kTables + t) * kBatch, kBatch,
               out.data() + t * kBatch * kDim);
      }
    }
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    return s / static_cast<double>(kBatches * kTables * kBatch) * 1e9;
  };
  for (int r = 0; r < repeats; ++r) {
    std::printf("ns/lookup: d0 %.1f d8 %.1f d16 %.1f d24 %.1f d32 %.1f d64 %.1f\n",
                ns_per_lookup(Gather<0>), ns_per_lookup(Gather<8>), ns_per_lookup(Gather<16>),
                ns_per_lookup(Gather<24>), ns_per_lookup(Gather<32>), ns_per_lookup(Gather<64>));
  }
  std::printf("checksum %.3f\n", static_cast<double>(out[0] + out[out.size() - 1]));
  return 0;
}
