#ifndef CRANK_BASE_ERROR_H_
#define CRANK_BASE_ERROR_H_

// Typed exceptions for API misuse and bad data, and CRANK_CHECK for internal invariants.
//
// Every message says what was expected, what was found and where (file:line[:field] for data).
// The CLI maps them to exit codes: InvalidArgument/ConfigError -> 2, DataError -> 3, IoError -> 4.

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace crank {

// Base of all crank exceptions.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A caller passed arguments that violate a documented contract (shapes, sizes, options).
class InvalidArgument : public Error {
 public:
  using Error::Error;
};

// A configuration (YAML or flags) is invalid. Carries where as fields: the file (empty when the
// value did not come from a file), its 1-based line (0 = unknown) and the dotted key
// ("train.epochs", "data.delimited.dense[1].name"; empty when no key applies). what() is
// "file:line: key: message", leaving out the parts that are empty or 0.
class ConfigError : public InvalidArgument {
 public:
  // A message without structured location (kept as is by what()).
  explicit ConfigError(const std::string& message);
  ConfigError(std::string key, std::string message);
  ConfigError(std::string file, int line, std::string key, std::string message);

  const std::string& file() const { return file_; }
  int line() const { return line_; }
  const std::string& key() const { return key_; }
  // The message without file, line and key.
  const std::string& message() const { return message_; }

  // The same error located at file:line (the key and message kept).
  ConfigError At(std::string file, int line) const;

 private:
  std::string file_;
  int line_ = 0;
  std::string key_;
  std::string message_;
};

// Input data is malformed. The message names file:line and the field.
class DataError : public Error {
 public:
  using Error::Error;
};

// A file could not be opened, read, written or is not what it claims to be (bad checkpoint).
class IoError : public Error {
 public:
  using Error::Error;
};

// Training diverged (non-finite loss).
class NumericError : public Error {
 public:
  using Error::Error;
};

[[noreturn]] void CheckFailed(const char* file, int line, const char* cond, const std::string& msg);

}  // namespace crank

// Aborts with file:line when an internal invariant does not hold. Not for user input.
#define CRANK_CHECK(cond, ...)                                                        \
  do {                                                                                \
    if (!(cond)) [[unlikely]] {                                                       \
      ::crank::CheckFailed(__FILE__, __LINE__, #cond, ::fmt::format("" __VA_ARGS__)); \
    }                                                                                 \
  } while (0)

// Throws crank::InvalidArgument with a formatted message when cond is false.
#define CRANK_REQUIRE(cond, ...)                                  \
  do {                                                            \
    if (!(cond)) [[unlikely]] {                                   \
      throw ::crank::InvalidArgument(::fmt::format(__VA_ARGS__)); \
    }                                                             \
  } while (0)

#endif  // CRANK_BASE_ERROR_H_
