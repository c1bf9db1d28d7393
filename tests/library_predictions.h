#ifndef CRANK_TESTS_LIBRARY_PREDICTIONS_H_
#define CRANK_TESTS_LIBRARY_PREDICTIONS_H_

// crank predict's output file against the library's Predict of the same model.

#include <gtest/gtest.h>

#include <fstream>
#include <string>

#include "crank/data/batch_reader.h"
#include "crank/io/load_model.h"

namespace crank::testing {

// The rows of `predictions` (crank predict's output for `data`) that equal the library's
// Predict of `model` exactly, in order; -1 when the file has more lines than the data has rows.
inline int64_t LibraryPredictionsMatch(const std::string& model, const std::string& data,
                                       const std::string& predictions) {
  LoadedModel m = LoadModel(model);
  ReaderOptions ro;
  auto reader = MakeBatchReader(m.mapping, {data}, ro, false);
  Batch batch;
  Tensor pred;
  std::ifstream lines(predictions);
  std::string line;
  int64_t n = 0;
  while (reader->Next(&batch)) {
    m.model->Predict(batch, &pred);
    for (int64_t i = 0; i < pred.size(); ++i, ++n) {
      if (!std::getline(lines, line) || std::stof(line) != pred[i]) {
        ADD_FAILURE() << predictions << " row " << n << ": '" << line << "' vs " << pred[i];
        return n;
      }
    }
  }
  return std::getline(lines, line) ? -1 : n;
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_LIBRARY_PREDICTIONS_H_
