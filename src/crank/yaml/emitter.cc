#include "crank/yaml/emitter.h"

#include <charconv>
#include <cmath>

namespace crank {
namespace {

template <typename T>
std::string Shortest(T v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  char buf[64];
  const auto [ptr, ec] = std::to_chars(buf, buf + sizeof(buf), v);  // shortest round trip
  return std::string(buf, ptr);
}

template <typename T>
std::string YamlText(T v) {
  if (std::isnan(v)) return ".nan";
  if (std::isinf(v)) return v > 0 ? ".inf" : "-.inf";
  return Shortest(v);
}

}  // namespace

YamlNumber::YamlNumber(float v) : text(YamlText(v)) {}
YamlNumber::YamlNumber(double v) : text(YamlText(v)) {}

std::string ShortestText(float v) { return Shortest(v); }
std::string ShortestText(double v) { return Shortest(v); }

YAML::Emitter& operator<<(YAML::Emitter& out, const YamlNumber& n) { return out << n.text; }

std::string EmittedText(const YAML::Emitter& out) { return std::string(out.c_str()) + "\n"; }

}  // namespace crank
