// Fuzz target: the data section of a configuration (DataConfig::FromYamlString: yaml-cpp
// parsing, key and type checks, Validate) on arbitrary text.
//
// Expected outcomes: a ConfigError (any crank::Error), or a configuration whose resolved YAML
// (ToYaml) parses back to a configuration with the same resolved YAML. A yaml-cpp exception
// escaping FromYamlString is a bug: every problem must be reported as a ConfigError naming the
// key.

#include <cstddef>
#include <cstdint>
#include <string>

#include "crank/base/error.h"
#include "crank/data/config.h"
#include "crank/data/data_spec.h"
#include "fuzz_util.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  crank::DataConfig config;
  try {
    config = crank::DataConfig::FromYamlString(text, "/fuzz/run.yaml");
  } catch (const crank::Error&) {
    return 0;  // refused with a crank exception: expected
  }
  crank::fuzz::CheckResolvedYamlRoundTrips(config);
  // A valid configuration resolves to a schema without throwing.
  try {
    const crank::Schema schema = crank::ResolveSchema(config);
    (void)schema;
  } catch (const crank::Error& e) {
    FUZZ_CHECK(false, std::string("a validated configuration has no schema: ") + e.what());
  }
  return 0;
}
