#include "crank/base/error.h"

#include <cstdio>
#include <cstdlib>

namespace crank {

void CheckFailed(const char* file, int line, const char* cond, const std::string& msg) {
  std::fprintf(stderr, "crank: internal check failed at %s:%d: %s %s\n", file, line, cond,
               msg.c_str());
  std::fflush(stderr);
  std::abort();
}

}  // namespace crank
