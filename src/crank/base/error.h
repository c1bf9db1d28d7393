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

// A configuration (YAML or flags) is invalid.
class ConfigError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
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
