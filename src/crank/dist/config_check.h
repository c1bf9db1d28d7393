#ifndef CRANK_DIST_CONFIG_CHECK_H_
#define CRANK_DIST_CONFIG_CHECK_H_

// Start-up check of a multi-process job: every rank must run the same configuration.

#include <string>

#include "crank/dist/process_group.h"

namespace crank {

// The first line where two YAML texts differ, as "section.key: 'a' (first) vs 'b' (second)",
// or empty when they are equal. The key is the line's path of enclosing mapping keys.
std::string FirstYamlDifference(const std::string& first, const std::string& second);

// Collective: rank 0 broadcasts `yaml` (the resolved configuration); a rank whose own differs
// throws ConfigError naming its rank and the first differing key. Every rank calls it.
void CheckSameConfiguration(ProcessGroup& group, const std::string& yaml);

}  // namespace crank

#endif  // CRANK_DIST_CONFIG_CHECK_H_
