#ifndef CRANK_DATA_SYNTHETIC_CRITEO_H_
#define CRANK_DATA_SYNTHETIC_CRITEO_H_

// A synthetic Criteo-format data generator (`crank gen`): rows drawn from a hidden random
// "teacher" click model, so that models have real signal to learn and their AUC can be judged.
//
// The teacher (fixed by teacher_seed):
//  - C1..C26: tokens of each field follow a Zipf law over the field's cardinality (Criteo
//    Kaggle's cardinalities, capped at max_cardinality); each token is 8 hex digits. Each
//    token has a weight (larger for low-cardinality fields); missing tokens weigh 0.
//  - Pairwise interactions: for 8 pairs of fields, the dot product of 4-dimensional latent
//    vectors of the two tokens (the structure DLRM's dot interaction models).
//  - I1..I13: log-normal counts floor(exp(mu + sigma * z)), z ~ N(0, 1); five of the z enter
//    the logit linearly, so log1p of the count carries signal. I2 is shifted by -1 (it can be
//    -1, as in Criteo).
//    Without dense features (dense = false) the I columns are empty and their part of the
//    logit is left out.
//  - Every field is missing with its own rate (missing_rate scaled by a per-field factor in
//    [0.25, 1.75]).
//  - label ~ Bernoulli(sigmoid(bias + logit)), bias calibrated so the mean click rate is
//    base_ctr. The teacher's own AUC is about 0.8; a logistic regression on one-hot features
//    trained for one epoch on 150k rows reaches about 0.72 on held-out rows, and a model of
//    the interactions (DLRM) can approach the teacher.
//
// The output is a deterministic function of the options (same seed -> same bytes on every
// platform). About 1 microsecond per row.

#include <cstdint>
#include <ostream>
#include <vector>

namespace crank {

struct SyntheticOptions {
  int64_t rows = 100'000;
  uint64_t seed = 1;                  // the rows drawn
  uint64_t teacher_seed = 1;          // the hidden click model: files with the same teacher_seed
                                      // and different seeds are train/eval data of one problem
  double missing_rate = 0.1;          // mean fraction of missing values per field, in [0, 0.5]
  double base_ctr = 0.25;             // mean label, in (0, 1)
  bool labelled = true;               // false: the 39-column variant without label
  int64_t max_cardinality = 100'000;  // tokens per categorical field at most
  double zipf_exponent = 1.1;         // > 0; larger = more concentrated on frequent tokens
  bool dense = true;  // false: I1..I13 are left empty and the click model has no dense part
                      // (the categorical rows are those of dense = true with the same seeds)

  // Throws InvalidArgument for out-of-range values.
  void Validate() const;
};

struct SyntheticSummary {
  int64_t rows = 0;
  int64_t positives = 0;          // rows with label 1 (drawn even when not written)
  double mean_probability = 0.0;  // mean teacher click probability
};

// Writes options.rows Criteo TSV lines to `out`. When `teacher_probabilities` is given it
// receives each row's teacher click probability (for measuring the teacher's AUC).
// Throws IoError when writing fails.
SyntheticSummary GenerateSyntheticCriteo(const SyntheticOptions& options, std::ostream& out,
                                         std::vector<float>* teacher_probabilities = nullptr);

}  // namespace crank

#endif  // CRANK_DATA_SYNTHETIC_CRITEO_H_
