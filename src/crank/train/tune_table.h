#ifndef CRANK_TRAIN_TUNE_TABLE_H_
#define CRANK_TRAIN_TUNE_TABLE_H_

// The trials of a search as `crank tune` prints and writes them (docs/tune.md, "Output").

#include <string>

#include "crank/train/tune.h"

namespace crank {

// The trial table: one header and one line per trial (id, bracket, rung, rows, params, metric,
// seconds, status), tab-separated when `tsv`, else aligned text.
std::string TrialTable(const TuneResult& result, bool tsv);
std::string TrialTableHeader(const std::string& metric_name, bool tsv);
std::string TrialTableRow(const TrialRecord& trial, bool tsv);
// The trials as JSON: {"metric": "auc", "best_trial": id, "trials": [{...}, ...]}.
std::string TrialsJson(const TuneResult& result);

}  // namespace crank

#endif  // CRANK_TRAIN_TUNE_TABLE_H_
