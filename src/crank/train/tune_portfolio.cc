#include "crank/train/tune_portfolio.h"

#include <algorithm>

namespace crank {
namespace {

// layers 0: the dot interaction; else that many cross layers of projection `rank`.
TrialParams Entry(double elr, double dlr, double l2, int64_t dim, int64_t min_count, int layers,
                  int64_t rank, int64_t epochs, int64_t catch_up = 0) {
  TrialParams p;
  p.embedding_learning_rate = elr;
  p.dense_learning_rate = dlr;
  p.embedding_l2 = l2;
  p.l2_catch_up = catch_up;
  p.embedding_dim = dim;
  p.hash_buckets = 0;
  p.min_count = min_count;
  p.interaction = layers > 0 ? Interaction::kCross : Interaction::kDot;
  p.cross_layers = layers > 0 ? layers : 1;
  p.cross_projection_dim = rank;
  p.epochs = epochs;
  return p;
}

template <typename T>
bool In(const std::vector<T>& values, T v) {
  return std::find(values.begin(), values.end(), v) != values.end();
}

bool InSpace(const TuneSpace& s, const TrialParams& p) {
  const bool l2_ok = p.embedding_l2 == 0.0
                         ? s.l2_zero_probability > 0.0
                         : p.embedding_l2 >= s.l2_min && p.embedding_l2 <= s.l2_max;
  const bool catch_up_ok = p.l2_catch_up == 0 || In(s.l2_catch_ups, p.l2_catch_up);
  const bool interaction_ok = p.interaction == Interaction::kCross
                                  ? s.cross_probability > 0.0 &&
                                        In(s.cross_layers, p.cross_layers) &&
                                        In(s.cross_projection_dims, p.cross_projection_dim)
                                  : s.cross_probability < 1.0;
  return catch_up_ok && interaction_ok && p.embedding_learning_rate >= s.embedding_lr_min &&
         p.embedding_learning_rate <= s.embedding_lr_max &&
         p.dense_learning_rate >= s.dense_lr_min && p.dense_learning_rate <= s.dense_lr_max &&
         l2_ok && In(s.embedding_dims, p.embedding_dim) && In(s.min_counts, p.min_count) &&
         In(s.epochs, p.epochs);
}

}  // namespace

const std::vector<TrialParams>& PortfolioEntries() {
  // The winners of the searches in docs/tune.md ("The portfolio" says which run gave which).
  static const std::vector<TrialParams> kEntries = {
      // MovieLens ratings, t1 at 200k rows with hashed defaults on the loaded machine, and the
      // best partial trial on zipf, nodense and t1 at 200k rows.
      Entry(0.0949, 0.000981, 2.21e-5, 32, 5, 3, 32, 3),
      // t1 at 200k rows with hashed defaults on the idle machine (147 trials).
      Entry(0.0872, 0.000588, 0.0, 32, 10, 2, 32, 3),
      // nodense at 1M rows: the best of one search alone with both cores, with the dimension
      // and min_count that direct runs found past that search's space. Applies only where the
      // space has grown with the data (GrownSpace) to hold dimension 64 and min_count 20.
      Entry(0.0943, 0.00131, 0.0, 64, 20, 1, 0, 3),
      // zipf at 1M rows: the best of one search alone with both cores (dot), with the L2 and
      // catch-up that direct runs found (docs/tune.md, "L2 catch-up"). Applies only to a grown
      // space (dimension 64, catch-up 100).
      Entry(0.0331, 0.00111, 1e-4, 64, 10, 0, 0, 3, 100),
  };
  return kEntries;
}

std::vector<TrialParams> PortfolioParams(const TuneSpace& space, const JobConfig& base) {
  const TrialParams of_base = ParamsOf(base);
  const bool vocabularies = of_base.min_count > 0 || (SwitchableToVocabulary(base.data) &&
                                                      space.vocabulary_probability > 0.0);
  std::vector<TrialParams> out;
  if (!vocabularies) return out;
  for (const TrialParams& e : PortfolioEntries()) {
    if (!InSpace(space, e)) continue;
    TrialParams p = of_base;  // fields no entry sets stay as in the base
    p.embedding_learning_rate = e.embedding_learning_rate;
    p.dense_learning_rate = e.dense_learning_rate;
    p.embedding_l2 = e.embedding_l2;
    p.l2_catch_up = e.l2_catch_up;
    p.embedding_dim = e.embedding_dim;
    // Hashed Criteo data switches to vocabularies; other data keeps its hashed fields as they are.
    p.hash_buckets = SwitchableToVocabulary(base.data) ? 0 : of_base.hash_buckets;
    p.min_count = e.min_count;
    p.interaction = e.interaction;
    p.cross_layers = e.cross_layers;
    p.cross_projection_dim = e.cross_projection_dim;
    p.epochs = e.epochs;
    out.push_back(p);
  }
  return out;
}

}  // namespace crank
