#include "crank/train/tune_refine.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <set>
#include <string>

namespace crank {
namespace {

double ThreeDigits(double v) { return std::stod(fmt::format("{:.3g}", v)); }

// The values of `list` next to `v` in sorted order: the next larger, then the next smaller.
template <typename T>
std::vector<T> Adjacent(std::vector<T> list, T v) {
  std::sort(list.begin(), list.end());
  list.erase(std::unique(list.begin(), list.end()), list.end());
  std::vector<T> out;
  const auto above = std::upper_bound(list.begin(), list.end(), v);
  if (above != list.end()) out.push_back(*above);
  const auto below = std::lower_bound(list.begin(), list.end(), v);
  if (below != list.begin()) out.push_back(*(below - 1));
  return out;
}

// `v` scaled by each of `factors`, rounded, where it stays in [lo, hi] (a small tolerance for
// the rounding of the range's ends).
std::vector<double> Scaled(double v, std::initializer_list<double> factors, double lo, double hi) {
  std::vector<double> out;
  for (double f : factors) {
    const double s = ThreeDigits(v * f);
    if (s >= lo * 0.999 && s <= hi * 1.001) out.push_back(s);
  }
  return out;
}

}  // namespace

std::vector<TrialParams> Neighbours(const TuneSpace& space, const JobConfig& base,
                                    const TrialParams& p) {
  std::vector<TrialParams> out;
  std::set<std::string> seen = {p.Describe()};
  const int64_t hashed = HashedCriteoFields(base.data);
  auto add = [&](TrialParams q) {
    if (q.embedding_l2 == 0.0) q.l2_catch_up = 0;  // nothing to catch up
    if (q.hash_buckets > 0 &&
        hashed * q.hash_buckets * q.embedding_dim > space.max_embedding_params)
      return;
    if (seen.insert(q.Describe()).second) out.push_back(q);
  };
  // p with `member` set to each of `values`, in order.
  auto vary = [&](auto member, const auto& values) {
    for (const auto& v : values) {
      TrialParams q = p;
      q.*member = v;
      add(q);
    }
  };
  // The learning rates may leave their range by one step: a local search follows the slope
  // past where the draws are spread.
  vary(&TrialParams::embedding_learning_rate,
       Scaled(p.embedding_learning_rate, {2.0, 0.5}, space.embedding_lr_min / 2,
              space.embedding_lr_max * 2));
  vary(&TrialParams::dense_learning_rate,
       Scaled(p.dense_learning_rate, {2.0, 0.5}, space.dense_lr_min / 2, space.dense_lr_max * 2));
  if (p.min_count > 0) vary(&TrialParams::min_count, Adjacent(space.min_counts, p.min_count));
  if (p.hash_buckets > 0)
    vary(&TrialParams::hash_buckets, Adjacent(space.hash_buckets, p.hash_buckets));
  vary(&TrialParams::embedding_dim, Adjacent(space.embedding_dims, p.embedding_dim));
  std::vector<double> l2s;
  if (p.embedding_l2 == 0.0) {
    l2s.push_back(ThreeDigits(std::sqrt(space.l2_min * space.l2_max)));
  } else {
    l2s = Scaled(p.embedding_l2, {10.0, 0.1}, space.l2_min, space.l2_max);
    if (space.l2_zero_probability > 0.0) l2s.push_back(0.0);
  }
  vary(&TrialParams::embedding_l2, l2s);
  if (p.embedding_l2 > 0.0) {
    for (int64_t c : space.l2_catch_ups) {
      if (c == p.l2_catch_up) continue;
      TrialParams q = p;
      q.l2_catch_up = c;
      add(q);
      if (c > 0 && p.l2_catch_up == 0) {
        q.embedding_l2 = std::min(ThreeDigits(p.embedding_l2 * 10.0), space.l2_max);
        add(q);
      }
    }
  }
  if (p.interaction == Interaction::kCross) {
    vary(&TrialParams::cross_layers, Adjacent(space.cross_layers, p.cross_layers));
    vary(&TrialParams::cross_projection_dim, space.cross_projection_dims);
    if (space.cross_probability < 1.0) {
      TrialParams q = p;
      q.interaction = Interaction::kDot;
      add(q);
    }
  } else if (space.cross_probability > 0.0 && !space.cross_layers.empty() &&
             !space.cross_projection_dims.empty()) {
    TrialParams q = p;
    q.interaction = Interaction::kCross;
    q.cross_layers = space.cross_layers.front();
    q.cross_projection_dim = space.cross_projection_dims.front();
    add(q);
  }
  vary(&TrialParams::epochs, Adjacent(space.epochs, p.epochs));
  return out;
}

std::vector<TrialParams> RefinementOrder(std::vector<TrialParams> neighbours, const TrialParams& p,
                                         bool overfit) {
  if (overfit) {
    std::stable_partition(neighbours.begin(), neighbours.end(),
                          [&](const TrialParams& q) { return q.l2_catch_up > p.l2_catch_up; });
  }
  return neighbours;
}

}  // namespace crank
