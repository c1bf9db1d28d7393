#include "crank/dist/config_check.h"

#include <fmt/format.h>

#include <sstream>
#include <vector>

#include "crank/base/error.h"

namespace crank {
namespace {

std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) out.push_back(line);
  return out;
}

size_t Indent(const std::string& line) {
  const size_t i = line.find_first_not_of(' ');
  return i == std::string::npos ? line.size() : i;
}

// "key" of "  key: value" or "  - key: value"; the trimmed line when it has no key.
std::string KeyOf(const std::string& line) {
  std::string s = line.substr(Indent(line));
  if (s.rfind("- ", 0) == 0) s = s.substr(2);
  const size_t colon = s.find(':');
  return colon == std::string::npos ? s : s.substr(0, colon);
}

// The value after "key:" (trimmed), or the trimmed line.
std::string ValueOf(const std::string& line) {
  const size_t colon = line.find(':');
  std::string v = colon == std::string::npos ? line.substr(Indent(line)) : line.substr(colon + 1);
  const size_t b = v.find_first_not_of(' ');
  return b == std::string::npos ? std::string() : v.substr(b);
}

}  // namespace

std::string FirstYamlDifference(const std::string& first, const std::string& second) {
  const std::vector<std::string> a = Lines(first), b = Lines(second);
  const size_t n = std::max(a.size(), b.size());
  std::vector<std::pair<size_t, std::string>> path;  // (indent, key) of enclosing lines
  for (size_t i = 0; i < n; ++i) {
    const std::string la = i < a.size() ? a[i] : std::string(), lb = i < b.size() ? b[i] : "";
    const std::string& line = i < a.size() ? la : lb;
    const size_t indent = Indent(line);
    while (!path.empty() && path.back().first >= indent) path.pop_back();
    if (la != lb) {
      std::string key;
      for (const auto& p : path) key += p.second + ".";
      key += KeyOf(line);
      return fmt::format("{}: '{}' vs '{}'", key, i < a.size() ? ValueOf(la) : "(absent)",
                         i < b.size() ? ValueOf(lb) : "(absent)");
    }
    path.emplace_back(indent, KeyOf(line));
  }
  return std::string();
}

void CheckSameConfiguration(ProcessGroup& group, const std::string& yaml) {
  if (group.size() == 1) return;
  std::string root = yaml;
  group.Broadcast(&root, 0);
  const std::string diff = FirstYamlDifference(root, yaml);
  if (!diff.empty()) {
    throw ConfigError(fmt::format(
        "rank {} runs another configuration than rank 0; every rank must run the same job; "
        "first difference (rank 0 vs rank {}) at {}",
        group.rank(), group.rank(), diff));
  }
}

}  // namespace crank
