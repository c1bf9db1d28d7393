#include "fuzz_util.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>

namespace crank::fuzz {
namespace {

std::string* g_scratch = nullptr;

void RemoveScratch() {
  if (g_scratch == nullptr) return;
  std::error_code ignored;
  std::filesystem::remove_all(*g_scratch, ignored);
}

uint64_t Bits(float v) {
  uint32_t u;
  std::memcpy(&u, &v, sizeof(u));
  return u;
}

}  // namespace

void CheckFailed(const char* file, int line, const char* cond, std::string_view msg) {
  std::fprintf(stderr, "%s:%d: fuzz invariant failed: %s: %.*s\n", file, line, cond,
               static_cast<int>(msg.size()), msg.data());
  std::abort();
}

const std::string& ScratchDir() {
  if (g_scratch == nullptr) {
    const char* tmp = std::getenv("TMPDIR");
    std::string pattern = std::string(tmp != nullptr && *tmp ? tmp : "/tmp") + "/crank-fuzz-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) {
      std::perror("mkdtemp");
      std::abort();
    }
    g_scratch = new std::string(pattern);
    std::atexit(RemoveScratch);
  }
  return *g_scratch;
}

std::string WriteScratchFile(const std::string& name, std::string_view bytes) {
  const std::string path = ScratchDir() + "/" + name;
  std::ofstream f(path, std::ios::binary | std::ios::trunc);
  f.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  f.close();
  if (!f) {
    std::fprintf(stderr, "cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

void CheckBatch(const Batch& batch, const DataSpec& spec, int64_t rows) {
  const int64_t d = spec.num_dense();
  FUZZ_CHECK(batch.dense.rank() == 2 && batch.dense.dim(0) == rows && batch.dense.dim(1) == d,
             "dense must be (B, D), is " + batch.dense.ShapeString());
  for (int64_t i = 0; i < batch.dense.size(); ++i) {
    FUZZ_CHECK(std::isfinite(batch.dense[i]), "dense values must be finite");
  }
  FUZZ_CHECK(batch.sparse.size() == spec.sparse.size(), "one SparseFeature per spec feature");
  for (size_t f = 0; f < spec.sparse.size(); ++f) {
    const SparseFeature& s = batch.sparse[f];
    const SparseFeatureSpec& fs = spec.sparse[f];
    FUZZ_CHECK(static_cast<int64_t>(s.offsets.size()) == rows + 1, fs.name + ": B + 1 offsets");
    FUZZ_CHECK(s.offsets[0] == 0, fs.name + ": offsets[0] == 0");
    for (int64_t b = 0; b < rows; ++b) {
      const int64_t n = s.offsets[static_cast<size_t>(b) + 1] - s.offsets[static_cast<size_t>(b)];
      FUZZ_CHECK(n >= 1, fs.name + ": every example has at least one id (0 = missing)");
      FUZZ_CHECK(fs.multi_hot || n == 1, fs.name + ": single-valued feature with several ids");
    }
    FUZZ_CHECK(s.offsets.back() == static_cast<int64_t>(s.ids.size()), fs.name + ": nnz");
    FUZZ_CHECK(s.weights.empty() || s.weights.size() == s.ids.size(), fs.name + ": weights");
    for (const int64_t id : s.ids) {
      FUZZ_CHECK(id >= 0 && id < fs.vocabulary_size, fs.name + ": id " + std::to_string(id) +
                                                         " outside [0, " +
                                                         std::to_string(fs.vocabulary_size) + ")");
    }
  }
  FUZZ_CHECK(batch.labels.size() == 0 || batch.labels.size() == rows, "labels empty or (B)");
  for (int64_t i = 0; i < batch.labels.size(); ++i) {
    const float y = batch.labels[i];
    FUZZ_CHECK(std::isfinite(y), "labels must be finite");
    FUZZ_CHECK(spec.label != LabelKind::kBinary || y == 0.0f || y == 1.0f,
               "binary labels must be 0 or 1");
  }
  FUZZ_CHECK(batch.weights.size() == (spec.weighted ? rows : 0),
             "weights (B) exactly when the spec is weighted");
  for (int64_t i = 0; i < batch.weights.size(); ++i) {
    FUZZ_CHECK(std::isfinite(batch.weights[i]) && batch.weights[i] >= 0.0f,
               "weights must be finite and >= 0");
  }
}

void AppendRows(const Batch& batch, std::vector<uint64_t>* out) {
  const int64_t rows = batch.dense.rank() == 2 ? batch.dense.dim(0) : 0;
  const int64_t d = batch.dense.rank() == 2 ? batch.dense.dim(1) : 0;
  for (int64_t b = 0; b < rows; ++b) {
    out->push_back(batch.labels.size() == 0 ? ~uint64_t{0} : Bits(batch.labels[b]));
    out->push_back(batch.weights.size() == 0 ? ~uint64_t{0} : Bits(batch.weights[b]));
    for (int64_t j = 0; j < d; ++j) out->push_back(Bits(batch.dense.at(b, j)));
    for (const SparseFeature& s : batch.sparse) {
      const auto begin = static_cast<size_t>(s.offsets[static_cast<size_t>(b)]);
      const auto end = static_cast<size_t>(s.offsets[static_cast<size_t>(b) + 1]);
      out->push_back(end - begin);
      for (size_t k = begin; k < end; ++k) out->push_back(static_cast<uint64_t>(s.ids[k]));
    }
  }
}

}  // namespace crank::fuzz
