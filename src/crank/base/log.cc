#include "crank/base/log.h"

#include <atomic>
#include <cstdio>
#include <string>

namespace crank {
namespace {
std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
}  // namespace

void SetLogLevel(LogLevel level) { g_level.store(static_cast<int>(level)); }
LogLevel GetLogLevel() { return static_cast<LogLevel>(g_level.load()); }

void LogLine(LogLevel level, std::string_view line) {
  const char* tag = level == LogLevel::kWarning ? "warning: "
                    : level == LogLevel::kError ? "error: "
                                                : "";
  std::string s = fmt::format("[crank] {}{}\n", tag, line);
  std::fwrite(s.data(), 1, s.size(), stderr);
}

}  // namespace crank
