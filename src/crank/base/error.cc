#include "crank/base/error.h"

#include <cstdio>
#include <cstdlib>
#include <utility>

namespace crank {
namespace {

std::string FormatConfigError(const std::string& file, int line, const std::string& key,
                              const std::string& message) {
  std::string out;
  if (!file.empty()) out = line > 0 ? fmt::format("{}:{}: ", file, line) : file + ": ";
  if (!key.empty()) out += key + ": ";
  return out + message;
}

}  // namespace

ConfigError::ConfigError(const std::string& message)
    : InvalidArgument(message), message_(message) {}

ConfigError::ConfigError(std::string key, std::string message)
    : ConfigError(std::string(), 0, std::move(key), std::move(message)) {}

ConfigError::ConfigError(std::string file, int line, std::string key, std::string message)
    : InvalidArgument(FormatConfigError(file, line, key, message)),
      file_(std::move(file)),
      line_(line),
      key_(std::move(key)),
      message_(std::move(message)) {}

ConfigError ConfigError::At(std::string file, int line) const {
  if (key_.empty() && file_.empty()) {  // an unstructured message: prefix the location only
    return ConfigError(std::move(file), line, std::string(), message_);
  }
  return ConfigError(std::move(file), line, key_, message_);
}

void CheckFailed(const char* file, int line, const char* cond, const std::string& msg) {
  std::fprintf(stderr, "crank: internal check failed at %s:%d: %s %s\n", file, line, cond,
               msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace crank
