#include "crank/tensor/tensor.h"

#include <gtest/gtest.h>

#include <cstdint>

#include "crank/base/error.h"

namespace crank {
namespace {

TEST(Tensor, ConstructsZeroFilledWithShape) {
  Tensor t({2, 3});
  EXPECT_EQ(t.size(), 6);
  EXPECT_EQ(t.rows(), 2);
  EXPECT_EQ(t.cols(), 3);
  for (int i = 0; i < 6; ++i) EXPECT_EQ(t[i], 0.0f);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(t.data()) % 64, 0u);
}

TEST(Tensor, RejectsValueCountMismatch) {
  EXPECT_THROW(Tensor({2, 2}, {1.0f, 2.0f, 3.0f}), InvalidArgument);
}

TEST(Tensor, ResizeKeepsBufferWhenShrinking) {
  Tensor t({4, 4});
  const float* p = t.data();
  t.Resize({2, 4});
  EXPECT_EQ(t.data(), p);
  EXPECT_EQ(t.ShapeString(), "(2, 4)");
}

TEST(Tensor, CopyIsDeep) {
  Tensor a({2}, {1.0f, 2.0f});
  Tensor b = a;
  b[0] = 5.0f;
  EXPECT_EQ(a[0], 1.0f);
}

TEST(Tensor, CopyOfDefaultConstructedTensorIsEmpty) {
  Tensor a;
  Tensor b = a;
  EXPECT_EQ(b.size(), 0);
  std::vector<std::vector<Tensor>> nested(2, std::vector<Tensor>(3));
  EXPECT_EQ(nested[1][2].size(), 0);
}

TEST(Tensor, LargeTensorsStartOnAHugePageBoundaryAndAreZero) {
  // 2 MiB and more: aligned for transparent huge pages (the advice itself is not observable).
  const Tensor big({3, 1 << 18});  // 3 MiB
  EXPECT_EQ(reinterpret_cast<uintptr_t>(big.data()) % (uintptr_t{2} << 20), 0u);
  for (int64_t i = 0; i < big.size(); i += 4099) ASSERT_EQ(big[i], 0.0f) << i;
  EXPECT_EQ(big[big.size() - 1], 0.0f);
  Tensor copy = big;  // copies allocate the same way
  EXPECT_EQ(reinterpret_cast<uintptr_t>(copy.data()) % (uintptr_t{2} << 20), 0u);
  const Tensor small({16, 16});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(small.data()) % 64, 0u);
}

}  // namespace
}  // namespace crank
