#ifndef CRANK_TESTS_SYNTHETIC_BATCHES_H_
#define CRANK_TESTS_SYNTHETIC_BATCHES_H_

// Small learnable problems for model tests: a hidden "teacher" assigns each sparse id a random
// effect and mixes the dense features linearly plus one pairwise interaction; labels are
// Bernoulli(sigmoid(teacher logit)) for classification, or the logit itself for regression.

#include <cmath>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/tensor/batch.h"
#include "crank/model/ranking_config.h"

namespace crank::testing {

struct SyntheticProblem {
  int64_t dense = 4;
  int64_t features = 3;
  int64_t vocab = 40;
  int64_t dim = 8;
  int64_t max_bag = 1;  // > 1: multi-hot bags of 0..max_bag ids
  bool regression = false;
  uint64_t seed = 7;

  RankingConfig Config() const {
    RankingConfig c;
    c.dense_features = dense;
    for (int64_t f = 0; f < features; ++f) {
      std::string name = "f" + std::to_string(f);
      c.tables.push_back({name, vocab, dim});
      c.features.push_back({name, name});
    }
    c.bottom = {16, dim};
    c.top = {16, 8, 1};
    c.loss = regression ? LossKind::kMeanSquaredError : LossKind::kBinaryCrossEntropy;
    c.seed = 11;
    return c;
  }

  // Deterministic batches; `index` selects the batch (same index => same batch).
  Batch MakeBatch(int64_t batch_size, uint64_t index) const {
    Rng teacher(seed);
    std::vector<float> effect(static_cast<size_t>(features * vocab));
    for (float& e : effect) e = static_cast<float>(teacher.Normal() * 1.5);
    std::vector<float> dense_w(static_cast<size_t>(dense));
    for (float& w : dense_w) w = static_cast<float>(teacher.Normal());

    Rng rng = Rng(seed).Fork(index + 1);
    Batch b;
    b.dense.Resize({batch_size, dense});
    b.labels.Resize({batch_size});
    b.sparse.assign(static_cast<size_t>(features), SparseFeature{});
    for (auto& s : b.sparse) s.Clear();
    for (int64_t i = 0; i < batch_size; ++i) {
      double logit = -0.3;
      for (int64_t d = 0; d < dense; ++d) {
        const float x = rng.UniformFloat();
        b.dense.at(i, d) = x;
        logit += dense_w[static_cast<size_t>(d)] * (x - 0.5);
      }
      std::vector<double> sparse_effect(static_cast<size_t>(features), 0.0);
      for (int64_t f = 0; f < features; ++f) {
        SparseFeature& s = b.sparse[static_cast<size_t>(f)];
        const int64_t n = max_bag <= 1 ? 1 : static_cast<int64_t>(rng.UniformInt(max_bag + 1));
        double sum = 0.0;
        for (int64_t k = 0; k < n; ++k) {
          const int64_t id = static_cast<int64_t>(rng.UniformInt(vocab));
          s.ids.push_back(id);
          sum += effect[static_cast<size_t>(f * vocab + id)];
        }
        s.offsets.push_back(static_cast<int64_t>(s.ids.size()));
        sparse_effect[static_cast<size_t>(f)] = n ? sum / n : 0.0;
        logit += sparse_effect[static_cast<size_t>(f)];
      }
      if (features >= 2) logit += 0.5 * sparse_effect[0] * sparse_effect[1];
      if (regression) {
        b.labels[i] = static_cast<float>(logit);
      } else {
        b.labels[i] = rng.UniformDouble() < 1.0 / (1.0 + std::exp(-4.0 * logit)) ? 1.0f : 0.0f;
      }
    }
    return b;
  }
};

}  // namespace crank::testing

#endif  // CRANK_TESTS_SYNTHETIC_BATCHES_H_
