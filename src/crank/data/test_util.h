#ifndef CRANK_DATA_TEST_UTIL_H_
#define CRANK_DATA_TEST_UTIL_H_

// Helpers shared by the data tests: temporary files, Criteo lines, reading whole passes.

#include <memory>
#include <string>
#include <vector>

#include "crank/data/batch_reader.h"
#include "crank/data/config.h"
#include "crank/data/mapping.h"
#include "crank/tensor/batch.h"

namespace crank::test {

// A fresh directory under the system temp dir, removed with its files at destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  std::string Path(const std::string& name) const { return dir_ + "/" + name; }
  // Writes `content` to Path(name) and returns the path.
  std::string Write(const std::string& name, const std::string& content) const;

 private:
  std::string dir_;
};

// One Criteo line: label (omitted when empty and `labelled` is false), 13 integer fields and
// 26 categorical fields; fields not given are empty. No newline.
std::string CriteoLine(const std::string& label, const std::vector<std::string>& ints,
                       const std::vector<std::string>& cats, bool labelled = true);

// Data config from YAML text of the data section's content.
DataConfig ConfigFromYaml(const std::string& yaml);

std::shared_ptr<const DataMapping> MakeMapping(const DataConfig& config,
                                               const std::vector<std::string>& train_files = {});

// The global-mean baseline of a configuration with a hold-out: the training split's rows, the
// rows the split left out, and its mean label; the evaluation split's rows and the RMSE of
// predicting that mean for them. Reads the config's train and eval files with StreamingReader.
struct MeanBaseline {
  int64_t train_rows = 0;
  int64_t train_rows_filtered = 0;
  double train_mean = 0.0;
  int64_t eval_rows = 0;
  double eval_rmse = 0.0;
};
MeanBaseline GlobalMeanBaseline(const DataConfig& config);

// Every batch of one pass.
std::vector<Batch> ReadAll(BatchReader* reader);

// Element-wise equality of two batches (dense, labels, weights, every sparse feature).
void ExpectBatchesEqual(const Batch& a, const Batch& b);
void ExpectPassesEqual(const std::vector<Batch>& a, const std::vector<Batch>& b);

// Area under the ROC curve (ties count one half).
double Auc(const std::vector<float>& scores, const std::vector<float>& labels);

}  // namespace crank::test

#endif  // CRANK_DATA_TEST_UTIL_H_
