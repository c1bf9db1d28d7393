#ifndef CRANK_TESTS_OP_TEST_HARNESS_H_
#define CRANK_TESTS_OP_TEST_HARNESS_H_

// Pieces of the table-driven op tests: one test body runs over a table of named cases.
//
// Pattern:
//   struct ScaleCase { std::string name; float in, want; };
//   class Scale : public ::testing::TestWithParam<ScaleCase> {};
//   TEST_P(Scale, MatchesTheHandComputedValue) { EXPECT_EQ(2 * GetParam().in, GetParam().want); }
//   INSTANTIATE_TEST_SUITE_P(Cases, Scale, ::testing::ValuesIn(std::vector<ScaleCase>{
//       {"Zero", 0, 0}, {"One", 1, 2}}), testing::CaseName<ScaleCase>);
// gives the tests Cases/Scale.MatchesTheHandComputedValue/Zero and .../One.
//
// A case's `name` must be a valid GoogleTest name: letters, digits and '_' only, unique within
// the table. Header-only; everything here is stateless and thread-compatible.

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "crank/base/error.h"

namespace crank::testing {

// INSTANTIATE_TEST_SUITE_P's name generator for case structs with a `name` member.
template <typename Case>
std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  return info.param.name;
}

// The message of the exception of type E that `f` throws, or "<no exception>". Other exception
// types propagate (and fail the test).
template <typename E = InvalidArgument, typename F>
std::string ThrownMessage(F&& f) {
  try {
    f();
  } catch (const E& e) {
    return e.what();
  }
  return "<no exception>";
}

// Bit-for-bit equality of two float buffers (memcmp: also tells -0 from 0 and NaN payloads
// apart), as determinism tests need; `what` names the buffer in the failure message.
inline void ExpectBitIdentical(const std::vector<float>& a, const std::vector<float>& b,
                               const std::string& what) {
  ASSERT_EQ(a.size(), b.size()) << what;
  EXPECT_EQ(std::memcmp(a.data(), b.data(), a.size() * sizeof(float)), 0) << what;
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_OP_TEST_HARNESS_H_
