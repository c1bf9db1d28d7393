#include "crank/base/system_memory.h"

#include <gtest/gtest.h>

namespace crank {
namespace {

TEST(SystemMemory, ReportsAPlausibleAvailableAmount) {
  const std::optional<int64_t> bytes = AvailableMemoryBytes();
  ASSERT_TRUE(bytes.has_value()) << "/proc/meminfo should be readable on Linux";
  EXPECT_GT(*bytes, int64_t{16} << 20);  // this test process itself runs in more than 16 MB
  EXPECT_LT(*bytes, int64_t{1} << 50);   // and no machine has a petabyte of memory
}

TEST(SystemMemory, HumanBytesUsesDecimalUnits) {
  EXPECT_EQ(HumanBytes(512), "512 B");
  EXPECT_EQ(HumanBytes(1500), "1.5 kB");
  EXPECT_EQ(HumanBytes(2.5e9), "2.5 GB");
  EXPECT_EQ(HumanBytes(4.16e13), "41.6 TB");
}

}  // namespace
}  // namespace crank
