#ifndef CRANK_TESTS_FEATURE_SETS_DATA_H_
#define CRANK_TESTS_FEATURE_SETS_DATA_H_

// Generated delimited files for models without dense or without sparse features, with a
// learnable signal: an Avazu-like file (a click label and categorical columns only, one of them
// multi-hot) and a file of numeric columns only. Labels are Bernoulli(sigmoid(teacher logit));
// the teacher is fixed by `teacher_seed`, the rows by `row_seed`, so files with the same teacher
// and different row seeds are a training set and its held-out rows.

#include <cmath>
#include <fstream>
#include <string>
#include <vector>

#include "crank/base/rng.h"

namespace crank::testing {

constexpr int kCategoricalColumns = 20;  // c00 .. c19; c19 is multi-hot ("a|b|c")

inline std::string CategoricalColumnName(int c) {
  return (c < 10 ? "c0" : "c") + std::to_string(c);
}

// Writes `rows` rows of click,c00,...,c19 to `path`; returns the labels.
inline std::vector<float> WriteCategoricalOnly(const std::string& path, int rows, uint64_t row_seed,
                                               uint64_t teacher_seed = 1) {
  Rng teacher(teacher_seed);
  std::vector<std::vector<double>> effect(kCategoricalColumns);
  for (int c = 0; c < kCategoricalColumns; ++c) {
    effect[c].resize(5 + 3 * static_cast<size_t>(c));  // vocabularies of 5 to 62 values
    // Half of the columns carry signal; the others are noise.
    for (double& e : effect[c]) e = c % 2 == 0 ? teacher.Normal() * 0.8 : 0.0;
  }
  Rng rng(row_seed);
  std::ofstream out(path);
  out << "click";
  for (int c = 0; c < kCategoricalColumns; ++c) out << ',' << CategoricalColumnName(c);
  out << '\n';
  std::vector<float> labels;
  for (int r = 0; r < rows; ++r) {
    double logit = -0.5;
    std::string line;
    std::vector<uint64_t> v(kCategoricalColumns);
    for (int c = 0; c < kCategoricalColumns; ++c) {
      const uint64_t n = effect[c].size();
      line += ',';
      if (c == kCategoricalColumns - 1) {  // multi-hot: 0 to 3 values, mean effect
        const uint64_t k = rng.UniformInt(4);
        double sum = 0;
        for (uint64_t i = 0; i < k; ++i) {
          const uint64_t id = rng.UniformInt(n);
          line += (i ? "|v" : "v") + std::to_string(id);
          sum += effect[c][id];
        }
        logit += k ? sum / static_cast<double>(k) : 0.0;
        continue;
      }
      v[c] = rng.UniformInt(n);
      line += "v" + std::to_string(v[c]);
      logit += effect[c][v[c]];
    }
    // One pairwise interaction, which the dot products of embeddings can express.
    logit += 0.8 * effect[0][v[0]] * effect[2][v[2]];
    const float y = rng.UniformDouble() < 1.0 / (1.0 + std::exp(-logit)) ? 1.0f : 0.0f;
    labels.push_back(y);
    out << (y > 0 ? '1' : '0') << line << '\n';
  }
  return labels;
}

// The data section (and a small model) for WriteCategoricalOnly files: hashed columns, the
// multi-hot one with a vocabulary. `model` is appended as the model section's extra lines.
inline std::string CategoricalOnlyConfig(const std::string& model_lines) {
  std::string y =
      "data:\n"
      "  format: delimited\n"
      "  on_error: fail\n"
      "  delimited:\n"
      "    delimiter: \",\"\n"
      "    label: click\n"
      "    categorical:\n";
  for (int c = 0; c + 1 < kCategoricalColumns; ++c) {
    y += "      - {name: " + CategoricalColumnName(c) + ", hash_buckets: 200}\n";
  }
  y += "    multi_hot:\n      - {name: " + CategoricalColumnName(kCategoricalColumns - 1) +
       ", separator: \"|\", vocabulary: {min_count: 1}}\n";
  y += "model:\n  embedding_dim: 8\n  top: [32, 1]\n" + model_lines;
  y += "train: {batch_size: 64, epochs: 3, threads: 2, seed: 3}\n";
  return y;
}

// Writes `rows` rows of y,x0,x1,x2,x3 (numbers only) to `path`; returns the labels.
inline std::vector<float> WriteDenseOnly(const std::string& path, int rows, uint64_t row_seed) {
  Rng rng(row_seed);
  std::ofstream out(path);
  out << "y,x0,x1,x2,x3\n";
  std::vector<float> labels;
  for (int r = 0; r < rows; ++r) {
    double x[4];
    for (double& v : x) v = rng.Normal();
    const double logit = 1.5 * x[0] - x[1] + 0.8 * x[2] * x[3];  // x3 alone carries nothing
    const float y = rng.UniformDouble() < 1.0 / (1.0 + std::exp(-logit)) ? 1.0f : 0.0f;
    labels.push_back(y);
    out << (y > 0 ? '1' : '0') << ',' << x[0] << ',' << x[1] << ',' << x[2] << ',' << x[3] << '\n';
  }
  return labels;
}

inline std::string DenseOnlyConfig(const std::string& model_lines) {
  return "data:\n"
         "  format: delimited\n"
         "  on_error: fail\n"
         "  delimited:\n"
         "    delimiter: \",\"\n"
         "    label: y\n"
         "    dense: [x0, x1, x2, x3]\n"
         "model:\n  embedding_dim: 8\n  bottom: [16, 8]\n  top: [16, 1]\n" +
         model_lines + "train: {batch_size: 64, epochs: 3, threads: 2, seed: 3}\n";
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_FEATURE_SETS_DATA_H_
