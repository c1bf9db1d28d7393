#ifndef CRANK_FUZZ_FUZZ_UTIL_H_
#define CRANK_FUZZ_FUZZ_UTIL_H_

// Helpers shared by the fuzz targets (fuzz/*.cc). Each target defines
// LLVMFuzzerTestOneInput; it is linked either with libFuzzer (build-fuzz, clang) or with
// replay_main.cc, which feeds it the files of the seed corpus and of fuzz/regressions (an
// ordinary ctest test in every build).
//
// The rule every target enforces: on any input, the code under test either succeeds or throws
// one of crank's exceptions (crank::Error and its subclasses). Anything else (another
// exception, a sanitizer report, a CRANK_CHECK failure, a broken invariant checked with
// FUZZ_CHECK) is a bug.

#include <cstddef>
#include <cstdint>
#include <exception>
#include <string>
#include <string_view>
#include <vector>

#include "crank/tensor/batch.h"
#include "crank/data/data_spec.h"

// Aborts with a message when an invariant of the code under test does not hold.
#define FUZZ_CHECK(cond, msg)                                                  \
  do {                                                                         \
    if (!(cond)) ::crank::fuzz::CheckFailed(__FILE__, __LINE__, #cond, (msg)); \
  } while (0)

namespace crank::fuzz {

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, std::string_view msg);

// A private directory for the files a target writes (under $TMPDIR or /tmp), created at the
// first call and removed with its files at exit. Not thread-safe (fuzz targets are single
// threaded).
const std::string& ScratchDir();
// Writes `bytes` to ScratchDir()/name (replacing it) and returns the path.
std::string WriteScratchFile(const std::string& name, std::string_view bytes);

// An accepted configuration (crank::DataConfig, crank::JobConfig): its resolved YAML
// (ToYaml) parses back, and to the same resolved YAML.
template <typename Config>
void CheckResolvedYamlRoundTrips(const Config& config) {
  const std::string yaml = config.ToYaml();
  Config again;
  try {
    again = Config::FromYamlString(yaml, "/fuzz/resolved.yaml");
  } catch (const std::exception& e) {
    FUZZ_CHECK(false, std::string("the resolved configuration does not parse back: ") + e.what() +
                          "\n--- resolved:\n" + yaml);
  }
  FUZZ_CHECK(again.ToYaml() == yaml, "ToYaml of the parsed resolved configuration differs:\n" +
                                         yaml + "\n---\n" + again.ToYaml());
}

// Checks a batch against what the data pipeline promises (data/batch.h, data/data_spec.h):
// `rows` examples; dense (B, D) finite; every sparse feature CSR with B + 1 offsets,
// exactly one id per example unless multi-hot, ids in [0, V); labels empty or (B) and, for a
// binary task, 0 or 1; weights empty or (B), finite and >= 0.
void CheckBatch(const Batch& batch, const DataSpec& spec, int64_t rows);

// A canonical, bit-exact description of a batch's rows (for comparing two pipelines): per
// row the label, weight, dense bit patterns and ids. Appends to *out.
void AppendRows(const Batch& batch, std::vector<uint64_t>* out);

}  // namespace crank::fuzz

#endif  // CRANK_FUZZ_FUZZ_UTIL_H_
