// Every interaction into and out of a band of a wider matrix (FeatureInteraction::ForwardInto,
// PredictInto, BackwardFrom: how Ranking uses them, its top input holding [bottom | interaction])
// gives the bits of the packed Forward, Predict and Backward, and leaves the columns outside the
// band alone. One harness for the three built-in interactions and for a user-defined one that
// gets the interface's defaults.

#include "crank/layers/feature_interaction.h"

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"
#include "crank/layers/concat_interaction.h"
#include "crank/layers/cross.h"
#include "crank/layers/dot_interaction.h"

namespace crank {
namespace {

// A user-defined interaction implementing only the pure virtuals: the product of all features
// (equal widths), element by element.
class ProductInteraction : public FeatureInteraction {
 public:
  int64_t Build(const std::vector<int64_t>& widths, Rng&) override {
    width_ = widths[0];
    return width_;
  }
  void Forward(const std::vector<const Tensor*>& f, Tensor* out, bool training) override {
    Predict(f, out, nullptr);
    if (training) kept_ = f;
  }
  void Predict(const std::vector<const Tensor*>& f, Tensor* out, InferenceScratch*) const override {
    *out = *f[0];
    for (size_t i = 1; i < f.size(); ++i) {
      for (int64_t k = 0; k < out->size(); ++k) (*out)[k] *= (*f[i])[k];
    }
  }
  void Backward(const Tensor& d_out, const std::vector<Tensor*>& d) override {
    for (size_t i = 0; i < d.size(); ++i) {
      *d[i] = d_out;
      for (size_t j = 0; j < kept_.size(); ++j) {
        if (j == i) continue;
        for (int64_t k = 0; k < d_out.size(); ++k) (*d[i])[k] *= (*kept_[j])[k];
      }
    }
  }
  std::vector<Variable*> Variables() override { return {}; }
  std::string Describe() const override { return "product"; }

 private:
  int64_t width_ = 0;
  std::vector<const Tensor*> kept_;
};

struct Case {
  std::string name;
  std::function<std::unique_ptr<FeatureInteraction>()> make;
  std::vector<int64_t> widths;
};

std::vector<Case> Cases() {
  CrossInteractionOptions cross;
  cross.num_layers = 3;
  CrossInteractionOptions low_rank = cross;
  low_rank.cross.projection_dim = 6;
  low_rank.cross.diag_scale = 0.5f;
  const std::vector<int64_t> dlrm(27, 16);  // the DLRM shape: the kernel's small path
  return {
      {"dot", [] { return std::make_unique<DotInteraction>(); }, dlrm},
      {"dot_self_skip_gather",
       [] {
         return std::make_unique<DotInteraction>(DotInteractionOptions{true, true});
       },
       {5, 5, 5, 5}},
      {"concat", [] { return std::make_unique<ConcatInteraction>(); }, {3, 7, 1}},
      {"cross", [cross] { return std::make_unique<CrossInteraction>(cross); }, {4, 9, 3}},
      {"cross_low_rank",
       [low_rank] { return std::make_unique<CrossInteraction>(low_rank); },
       {4, 9, 3}},
      {"user_defined_default", [] { return std::make_unique<ProductInteraction>(); }, {6, 6, 6}},
  };
}

Tensor RandomTensor(std::vector<int64_t> shape, Rng& rng) {
  Tensor t(std::move(shape));
  for (int64_t i = 0; i < t.size(); ++i) t[i] = 2.0f * rng.UniformFloat() - 1.0f;
  return t;
}

void ExpectSameBits(const Tensor& a, const Tensor& b, const std::string& what) {
  ASSERT_EQ(a.shape(), b.shape()) << what;
  ASSERT_EQ(std::memcmp(a.data(), b.data(), sizeof(float) * a.size()), 0) << what;
}

// Row r of `wide` outside columns [lead, lead + width) still holds `fill`, and inside them the
// packed row.
void ExpectBand(const Tensor& wide, int64_t lead, const Tensor& packed, float fill,
                const std::string& what) {
  const int64_t width = packed.dim(1);
  for (int64_t r = 0; r < wide.dim(0); ++r) {
    for (int64_t c = 0; c < wide.dim(1); ++c) {
      const float got = wide.at(r, c);
      if (c < lead || c >= lead + width) {
        ASSERT_EQ(got, fill) << what << ": column " << c << " outside the band changed";
      } else {
        const float want = packed.at(r, c - lead);
        ASSERT_EQ(std::memcmp(&got, &want, sizeof(float)), 0)
            << what << " (" << r << ", " << c << ")";
      }
    }
  }
}

void CheckBands(const Case& c, int64_t batch) {
  SCOPED_TRACE(c.name + " batch " + std::to_string(batch));
  Rng data(11);
  std::vector<Tensor> features;
  for (int64_t w : c.widths) features.push_back(RandomTensor({batch, w}, data));
  std::vector<const Tensor*> inputs;
  for (const Tensor& t : features) inputs.push_back(&t);
  // Two interactions with the same variables: one packed, one into bands.
  Rng r1(5), r2(5);
  std::unique_ptr<FeatureInteraction> packed = c.make(), banded = c.make();
  const int64_t width = packed->Build(c.widths, r1);
  ASSERT_EQ(banded->Build(c.widths, r2), width);

  const int64_t lead = 3, ld = lead + width + 2;
  const float fill = -123.5f;
  // Forward (training) and Predict.
  Tensor out;
  packed->Forward(inputs, &out, /*training=*/true);
  Tensor wide({batch, ld});
  wide.Fill(fill);
  banded->ForwardInto(inputs, Columns(wide, lead, width), /*training=*/true);
  ExpectBand(wide, lead, out, fill, "ForwardInto");
  InferenceScratch scratch;
  Tensor predicted;
  packed->Predict(inputs, &predicted, &scratch);
  ExpectSameBits(predicted, out, "Predict");
  Tensor wide_predicted({batch, ld});
  wide_predicted.Fill(fill);
  static_cast<const FeatureInteraction&>(*banded).PredictInto(
      inputs, Columns(wide_predicted, lead, width), &scratch);
  ExpectBand(wide_predicted, lead, out, fill, "PredictInto");

  // Backward, the gradient read from a band of a wider matrix whose other columns are poison.
  const Tensor d_out = RandomTensor({batch, width}, data);
  Tensor d_wide({batch, ld});
  d_wide.Fill(1e30f);
  for (int64_t r = 0; r < batch; ++r) {
    std::memcpy(d_wide.row(r) + lead, d_out.row(r), sizeof(float) * width);
  }
  std::vector<Tensor> d_packed(c.widths.size()), d_banded(c.widths.size());
  std::vector<Tensor*> p_packed, p_banded;
  for (size_t i = 0; i < c.widths.size(); ++i) {
    p_packed.push_back(&d_packed[i]);
    p_banded.push_back(&d_banded[i]);
  }
  packed->Backward(d_out, p_packed);
  banded->BackwardFrom(Columns(std::as_const(d_wide), lead, width), p_banded);
  for (size_t i = 0; i < c.widths.size(); ++i) {
    ExpectSameBits(d_banded[i], d_packed[i], "feature gradient " + std::to_string(i));
  }
  const std::vector<Variable*> vp = packed->Variables(), vb = banded->Variables();
  ASSERT_EQ(vp.size(), vb.size());
  for (size_t i = 0; i < vp.size(); ++i) ExpectSameBits(vb[i]->grad, vp[i]->grad, vp[i]->name);
}

TEST(FeatureInteraction, BandsOfAWiderMatrixGiveThePackedBits) {
  const int saved = ComputeThreads();
  for (int threads : {1, 2}) {
    SetComputeThreads(threads);
    for (const Case& c : Cases()) {
      CheckBands(c, 1);
      CheckBands(c, 77);  // several chunks of the dot interaction, split over the threads
    }
  }
  SetComputeThreads(saved);
}

TEST(FeatureInteraction, IntoAWindowOfTheWrongShapeIsRejected) {
  for (const Case& c : Cases()) {
    if (c.name == "user_defined_default") continue;  // the default's message: see below
    SCOPED_TRACE(c.name);
    Rng rng(1);
    std::unique_ptr<FeatureInteraction> x = c.make();
    const int64_t width = x->Build(c.widths, rng);
    std::vector<Tensor> features;
    for (int64_t w : c.widths) features.push_back(RandomTensor({4, w}, rng));
    std::vector<const Tensor*> inputs;
    for (const Tensor& t : features) inputs.push_back(&t);
    Tensor wide({4, width + 1});
    EXPECT_THROW(x->ForwardInto(inputs, Columns(wide, 0, width + 1), true), InvalidArgument);
    Tensor short_rows({3, width});
    EXPECT_THROW(x->ForwardInto(inputs, Columns(short_rows, 0, width), true), InvalidArgument);
  }
  ProductInteraction product;
  Rng rng(1);
  product.Build({2, 2}, rng);
  const Tensor a({1, 2}, {1.0f, 2.0f});
  Tensor wide({1, 3});
  EXPECT_THROW(product.ForwardInto({&a, &a}, Columns(wide, 0, 3), true), InvalidArgument);
}

}  // namespace
}  // namespace crank
