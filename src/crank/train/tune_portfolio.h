#ifndef CRANK_TRAIN_TUNE_PORTFOLIO_H_
#define CRANK_TRAIN_TUNE_PORTFOLIO_H_

// The warm-start portfolio of `crank tune` (docs/tune.md, "The portfolio"): a short fixed list
// of configurations that won earlier searches on other data, tried before the random draws, as
// AutoML systems seed a search with configurations that did well elsewhere.

#include <vector>

#include "crank/train/job_config.h"
#include "crank/train/tune.h"

namespace crank {

// The portfolio's entries, in order, as given: every field of TrialParams set; hash_buckets 0
// and min_count > 0 (each entry encodes with vocabularies).
const std::vector<TrialParams>& PortfolioEntries();

// The entries that apply to `base` and `space`, in the order of PortfolioEntries(), as
// TrialParams for `base`: an entry applies when the data has vocabulary-encoded fields (or is
// Criteo data the space may switch to vocabularies: SwitchableToVocabulary and
// space.vocabulary_probability > 0), and when every value of the entry lies in the space (its
// dimension, min_count, epochs, cross layers and rank in the space's lists, cross_probability
// > 0, its learning rates and L2 in the space's ranges). Empty when none applies. Pure function
// of its arguments.
std::vector<TrialParams> PortfolioParams(const TuneSpace& space, const JobConfig& base);

}  // namespace crank

#endif  // CRANK_TRAIN_TUNE_PORTFOLIO_H_
