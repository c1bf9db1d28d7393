#ifndef CRANK_REPORT_MARKUP_CHECK_H_
#define CRANK_REPORT_MARKUP_CHECK_H_

// For the report's tests: checks that markup is well formed, as an XML parser would: every tag
// closed in order (HTML void elements excepted), attribute values quoted, every '&' starting one
// of the character references EscapeHtml writes, no '<' or '>' in text or attributes.

#include <string>
#include <string_view>

namespace crank::testing {

// "" when `markup` is well formed; otherwise what is wrong and at which byte.
std::string MarkupProblem(std::string_view markup);

}  // namespace crank::testing

#endif  // CRANK_REPORT_MARKUP_CHECK_H_
