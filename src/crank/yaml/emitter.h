#ifndef CRANK_YAML_EMITTER_H_
#define CRANK_YAML_EMITTER_H_

// The one way crank writes YAML: yaml-cpp's emitter, with numbers written as the shortest text
// that reads back as the same value (`1e-05`, `0.1`, `0.002`; never `9.99999975e-06`).
// Thread-safe (no shared state).

#include <yaml-cpp/yaml.h>

#include <string>

namespace crank {

// The shortest decimal text that parses back to exactly `v` ("0.1" for 0.1f, "1e-05" for
// 1e-5f, "nan", "inf", "-inf" for the non-finite values).
std::string ShortestText(float v);
std::string ShortestText(double v);

// A number for the emitter: `out << YamlNumber(v)` writes ShortestText(v) as a plain scalar, or
// YAML's spelling of a non-finite value (.nan, .inf, -.inf) so that it reads back.
struct YamlNumber {
  explicit YamlNumber(float v);
  explicit YamlNumber(double v);
  std::string text;
};
YAML::Emitter& operator<<(YAML::Emitter& out, const YamlNumber& n);

// The emitter's text followed by a newline (how a configuration file ends).
std::string EmittedText(const YAML::Emitter& out);

}  // namespace crank

#endif  // CRANK_YAML_EMITTER_H_
