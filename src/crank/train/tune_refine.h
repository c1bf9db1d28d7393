#ifndef CRANK_TRAIN_TUNE_REFINE_H_
#define CRANK_TRAIN_TUNE_REFINE_H_

// The local refinement of `crank tune` (docs/tune.md, "Refinement"): after the brackets, the
// search spends the rest of its budget on configurations one step away from the best full-data
// configuration so far, moving to the first one that beats it (first-improvement hill
// climbing, the local search of ParamILS and of the exploitation step of BOHB / evolutionary
// searches). This file defines the steps.

#include <vector>

#include "crank/train/job_config.h"
#include "crank/train/tune.h"

namespace crank {

// The configurations one step from `p` in `space`, for data shaped like `base`, in the order
// they are tried: each changes one value of `p`.
//  1. embedding learning rate x2, x0.5; 2. dense learning rate x2, x0.5 (3 significant digits;
//     within [min / 2, max * 2] of the space's range: one step past the range where draws are
//     spread, as a local search follows the slope past it);
//  3. min_count (when p has one) / hash buckets (when p hashes): the next larger, then the next
//     smaller value of the space's list (buckets only under space.max_embedding_params);
//  4. embedding dimension: the next larger, then the next smaller of the space's list (under
//     the cap when p hashes);
//  5. embedding L2: from 0 to the geometric middle of [l2_min, l2_max]; else x10, x0.1 (inside
//     the range) and 0 (when l2_zero_probability > 0);
//  5b. L2 catch-up (when p has L2): each other value of space.l2_catch_ups, in the list's
//     order; one that turns catch-up on from 0 is followed by the same with the L2 x10 (at
//     most l2_max): catch-up pulls rare rows harder, and the L2 that fits it is larger
//     (docs/tune.md, "With L2 catch-up") -- the one step that changes two values;
//  6. interaction: a cross network's next larger and smaller layer count of the space's list,
//     then its other projection ranks; dot -> cross with the list's first layer count and rank
//     (when cross_probability > 0); a cross network -> dot (when cross_probability < 1);
//  7. epochs: the next larger, then the next smaller of the space's list.
// A step that would leave a value where it is (an edge of a range or a list) is left out, and so
// is a duplicate. Pure function of its arguments.
std::vector<TrialParams> Neighbours(const TuneSpace& space, const JobConfig& base,
                                    const TrialParams& p);

// The order the refinement tries `neighbours` of `p`: as given, except that when p overfit (its
// full-data trial ended before its last epoch: an epoch did not improve on the best, whose
// model it kept), the steps that turn L2 catch-up on or raise it come first, in their order.
// Successive halving judges configurations on a fraction of their steps, where a stronger
// regulariser has not yet paid off, so the search reaches them only here.
std::vector<TrialParams> RefinementOrder(std::vector<TrialParams> neighbours, const TrialParams& p,
                                         bool overfit);

}  // namespace crank

#endif  // CRANK_TRAIN_TUNE_REFINE_H_
