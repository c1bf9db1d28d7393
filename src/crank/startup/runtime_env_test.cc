#include "crank/startup/runtime_env.h"

#include <gtest/gtest.h>
#include <stdlib.h>

#include <string>
#include <utility>
#include <vector>

namespace crank {
namespace {

// Sets (or, with nullptr, unsets) the OpenMP variables for one test and restores them after.
class ScopedEnv {
 public:
  ScopedEnv(const char* policy, const char* spin, const char* marker) {
    Save("OMP_WAIT_POLICY", policy);
    Save("GOMP_SPINCOUNT", spin);
    Save("CRANK_RUNTIME_ENV", marker);
  }
  // Any one variable.
  ScopedEnv(const char* name, const char* value) { Save(name, value); }
  ~ScopedEnv() {
    for (const auto& [name, value, had] : saved_) {
      if (had) {
        setenv(name.c_str(), value.c_str(), 1);
      } else {
        unsetenv(name.c_str());
      }
    }
  }

 private:
  struct Saved {
    std::string name, value;
    bool had;
  };
  void Save(const char* name, const char* value) {
    const char* old = getenv(name);
    saved_.push_back({name, old ? old : "", old != nullptr});
    if (value) {
      setenv(name, value, 1);
    } else {
      unsetenv(name);
    }
  }
  std::vector<Saved> saved_;
};

bool HasVariable(const std::vector<std::pair<std::string, std::string>>& env,
                 const std::string& name) {
  for (const auto& [n, v] : env) {
    if (n == name) return true;
  }
  return false;
}

TEST(RuntimeEnv, CountsOtherRunnableTasks) { EXPECT_GE(OtherRunnableTasks(), 0); }

TEST(RuntimeEnv, ChoosesAWaitPolicyWhenTheUserSetNone) {
  ScopedEnv env(nullptr, nullptr, nullptr);
  const auto rec = RecommendedRuntimeEnvironment();
  // Exactly one of the two, with the reason for the log.
  EXPECT_NE(HasVariable(rec, "GOMP_SPINCOUNT"), HasVariable(rec, "OMP_WAIT_POLICY"));
  EXPECT_TRUE(HasVariable(rec, "CRANK_RUNTIME_ENV"));
}

TEST(RuntimeEnv, LeavesTheUsersOpenMpSettingsAlone) {
  {
    ScopedEnv env("active", nullptr, nullptr);
    const auto rec = RecommendedRuntimeEnvironment();
    EXPECT_FALSE(HasVariable(rec, "GOMP_SPINCOUNT"));
    EXPECT_FALSE(HasVariable(rec, "OMP_WAIT_POLICY"));
    EXPECT_EQ(OpenMpWaitDescription(), "OMP_WAIT_POLICY=active (set by the user)");
  }
  {
    ScopedEnv env(nullptr, "5000", nullptr);
    EXPECT_FALSE(HasVariable(RecommendedRuntimeEnvironment(), "OMP_WAIT_POLICY"));
    EXPECT_EQ(OpenMpWaitDescription(), "GOMP_SPINCOUNT=5000 (set by the user)");
  }
}

TEST(RuntimeEnv, DescribesTheChoiceAndItsReason) {
  {
    ScopedEnv env(nullptr, "1000", "idle:0");
    EXPECT_EQ(OpenMpWaitDescription(),
              "spin 1000 rounds, then sleep (GOMP_SPINCOUNT; machine idle at start)");
  }
  {
    ScopedEnv env("passive", nullptr, "busy:3");
    EXPECT_EQ(OpenMpWaitDescription(),
              "sleep at once (OMP_WAIT_POLICY=passive; 3 other runnable tasks at start)");
  }
  {
    ScopedEnv env(nullptr, nullptr, nullptr);
    EXPECT_EQ(OpenMpWaitDescription(), "libgomp default (spin about 300000 rounds, then sleep)");
  }
}

std::string ValueOf(const std::vector<std::pair<std::string, std::string>>& env,
                    const std::string& name) {
  for (const auto& [n, v] : env) {
    if (n == name) return v;
  }
  return "";
}

TEST(RuntimeEnv, AsksMallocForHugePagesUnlessTheUserSetTunables) {
  {
    ScopedEnv env("GLIBC_TUNABLES", nullptr);
    EXPECT_EQ(ValueOf(RecommendedRuntimeEnvironment(), "GLIBC_TUNABLES"), "glibc.malloc.hugetlb=1");
  }
  {
    ScopedEnv env("GLIBC_TUNABLES", "glibc.malloc.arena_max=1");
    EXPECT_FALSE(HasVariable(RecommendedRuntimeEnvironment(), "GLIBC_TUNABLES"));
  }
}

}  // namespace
}  // namespace crank
