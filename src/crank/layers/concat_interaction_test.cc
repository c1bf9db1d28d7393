#include "crank/layers/concat_interaction.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "gradient_check.h"

namespace crank {
namespace {

TEST(ConcatInteraction, ConcatenatesFeaturesInOrder) {
  ConcatInteraction concat;
  Rng rng(0);
  EXPECT_EQ(concat.Build({1, 3, 2}, rng), 6);
  const Tensor a({2, 1}, {1, 2});
  const Tensor b({2, 3}, {3, 4, 5, 6, 7, 8});
  const Tensor c({2, 2}, {9, 10, 11, 12});
  Tensor out;
  concat.Forward({&a, &b, &c}, &out, false);
  EXPECT_EQ(out.shape(), (std::vector<int64_t>{2, 6}));
  EXPECT_EQ(out.ToVector(), (std::vector<float>{1, 3, 4, 5, 9, 10,  //
                                                2, 6, 7, 8, 11, 12}));
  EXPECT_TRUE(concat.Variables().empty());
  EXPECT_EQ(concat.Describe(), "concat");
}

TEST(ConcatInteraction, BackwardSplitsTheGradient) {
  ConcatInteraction concat;
  Rng rng(0);
  concat.Build({2, 1}, rng);
  const Tensor a({1, 2}, {0, 0}), b({1, 1}, {0});
  Tensor out;
  concat.Forward({&a, &b}, &out, true);
  Tensor da({5, 5}), db;  // da's old shape and contents are replaced
  concat.Backward(Tensor({1, 3}, {0.5f, -1.0f, 2.0f}), {&da, &db});
  EXPECT_EQ(da.shape(), (std::vector<int64_t>{1, 2}));
  EXPECT_EQ(da.ToVector(), (std::vector<float>{0.5f, -1.0f}));
  EXPECT_EQ(db.ToVector(), (std::vector<float>{2.0f}));
  // A nullptr gradient is skipped.
  concat.Backward(Tensor({1, 3}, {1, 2, 3}), {nullptr, &db});
  EXPECT_EQ(db.ToVector(), (std::vector<float>{3.0f}));
}

TEST(ConcatInteraction, GradientMatchesFiniteDifferences) {
  for (int64_t batch : {1, 4}) {
    SCOPED_TRACE("batch " + std::to_string(batch));
    ConcatInteraction concat;
    Rng rng(2);
    const std::vector<int64_t> widths = {3, 1, 4};
    concat.Build(widths, rng);
    std::vector<Tensor> features;
    for (int64_t w : widths) {
      Tensor t({batch, w});
      for (int64_t i = 0; i < t.size(); ++i) t[i] = 2.0f * rng.UniformFloat() - 1.0f;
      features.push_back(t);
    }
    const std::vector<const Tensor*> inputs = {&features[0], &features[1], &features[2]};
    testing::ProjectionLoss proj({batch, 8}, 6);
    Tensor out;
    auto loss = [&] {
      concat.Forward(inputs, &out, true);
      return proj(out);
    };
    loss();
    std::vector<Tensor> grads(3);
    concat.Backward(proj.Gradient(), {&grads[0], &grads[1], &grads[2]});
    for (size_t i = 0; i < 3; ++i) {
      testing::ExpectGradientMatches(loss, features[i].data(), grads[i].data(), features[i].size(),
                                     "feature " + std::to_string(i));
    }
  }
}

TEST(ConcatInteraction, RejectsInputsThatDoNotMatchBuild) {
  ConcatInteraction concat;
  Rng rng(0);
  EXPECT_THROW(concat.Build({}, rng), InvalidArgument);
  EXPECT_THROW(concat.Build({2, 0}, rng), InvalidArgument);
  Tensor out;
  const Tensor a({2, 2}), b({2, 3}), b_short({1, 3}), b_wide({2, 4});
  EXPECT_THROW(concat.Forward({&a, &b}, &out, true), InvalidArgument);  // not built
  concat.Build({2, 3}, rng);
  EXPECT_THROW(concat.Forward({&a}, &out, true), InvalidArgument);
  EXPECT_THROW(concat.Forward({&a, &b_wide}, &out, true), InvalidArgument);
  EXPECT_THROW(concat.Forward({&a, &b_short}, &out, true), InvalidArgument);
  Tensor da, db;
  EXPECT_THROW(concat.Backward(Tensor({2, 5}), {&da, &db}), InvalidArgument);  // no forward
  concat.Forward({&a, &b}, &out, true);
  EXPECT_THROW(concat.Backward(Tensor({2, 4}), {&da, &db}), InvalidArgument);
  EXPECT_THROW(concat.Backward(Tensor({2, 5}), {&da}), InvalidArgument);
}

}  // namespace
}  // namespace crank
