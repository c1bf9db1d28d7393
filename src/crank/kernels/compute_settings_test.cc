// ScopedComputeSettings: settings installed per calling thread, restored on exit, and two
// threads with different settings running at once each getting the results they get alone.

#include "crank/kernels/compute_settings.h"

#include <gtest/gtest.h>
#include <omp.h>

#include <cstring>
#include <thread>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/rng.h"
#include "crank/kernels/activation.h"
#include "crank/kernels/cross.h"
#include "crank/kernels/gemm.h"
#include "crank/kernels/kernel_test_util.h"
#include "crank/kernels/linear.h"

namespace crank {
namespace {

using testing::RandomVector;

// The threads a parallel region started here gets.
int RegionThreads() {
  int threads = 0;
#pragma omp parallel
  {
#pragma omp single
    threads = omp_get_num_threads();
  }
  return threads;
}

TEST(ComputeSettings, RejectsNegativeThreads) {
  EXPECT_THROW(ScopedComputeSettings({.threads = -1}), InvalidArgument);
  EXPECT_NO_THROW(ComputeSettings{}.Validate());
}

TEST(ComputeSettings, GuardInstallsOnTheCallingThreadAndRestoresOnExit) {
  testing::RestoreComputeSettings restore;
  SetComputeThreads(2);
  SetGemmPrecision(GemmPrecision::kFp32);
  const GemmPrecision bf16_or_fallback =
      Bf16Supported() ? GemmPrecision::kBf16 : GemmPrecision::kFp32;
  {
    ScopedComputeSettings outer({.threads = 1, .precision = GemmPrecision::kBf16});
    EXPECT_EQ(ComputeThreads(), 1);
    EXPECT_EQ(RegionThreads(), 1);
    EXPECT_EQ(ThreadGemmPrecision(), GemmPrecision::kBf16);
    EXPECT_EQ(ActiveGemmPrecision(), bf16_or_fallback);
    EXPECT_EQ(GetGemmPrecision(), GemmPrecision::kFp32) << "the process default stays";
    {
      ScopedComputeSettings inner({.threads = 3, .precision = GemmPrecision::kFp32});
      EXPECT_EQ(ComputeThreads(), 3);
      EXPECT_EQ(ActiveGemmPrecision(), GemmPrecision::kFp32);
    }
    EXPECT_EQ(ComputeThreads(), 1);
    EXPECT_EQ(ActiveGemmPrecision(), bf16_or_fallback);
    {
      ScopedComputeSettings defaults(ComputeSettings{});  // changes nothing
      EXPECT_EQ(ComputeThreads(), 1);
      EXPECT_EQ(ActiveGemmPrecision(), bf16_or_fallback);
    }
  }
  EXPECT_EQ(ComputeThreads(), 2);
  EXPECT_EQ(RegionThreads(), 2);
  EXPECT_EQ(ThreadGemmPrecision(), std::nullopt);
  EXPECT_EQ(GetGemmPrecision(), GemmPrecision::kFp32);
  EXPECT_EQ(ActiveGemmPrecision(), GemmPrecision::kFp32);
}

// A small workload through the kernels: a GEMM, a ReLU linear layer forward and backward and a
// full-rank cross layer forward and backward, all results concatenated.
std::vector<float> Workload() {
  const int64_t batch = 300, in = 48, out = 40;
  const std::vector<float> x = RandomVector(batch * in, 11);
  const std::vector<float> w = RandomVector(in * out, 12);
  const std::vector<float> bias = RandomVector(out, 13);
  const std::vector<float> dy = RandomVector(batch * out, 14);
  std::vector<float> y(batch * out), d_pre(batch * out), dw(in * out, 0.0f), db(out, 0.0f),
      dx(batch * in);
  LinearForward(x.data(), w.data(), bias.data(), Activation::kRelu, batch, in, out, y.data());
  LinearBackward(x.data(), w.data(), y.data(), dy.data(), Activation::kRelu, batch, in, out,
                 d_pre.data(), dw.data(), db.data(), dx.data());

  const std::vector<float> kernel = RandomVector(in * in, 15);
  CrossWeights cw{.width = in, .kernel = kernel.data(), .bias = bias.data(), .diag_scale = 0.5f};
  std::vector<float> act(batch * in), cross_out(batch * in), d_z(batch * in), d_x0(batch * in),
      d_x(batch * in), d_kernel(in * in, 0.0f), d_bias(in, 0.0f);
  std::vector<float> cross_bias(in, 0.1f);
  cw.bias = cross_bias.data();
  CrossForward(cw, batch, x.data(), x.data(), nullptr, act.data(), cross_out.data(), in);
  CrossBackward(cw, {.d_kernel = d_kernel.data(), .d_bias = d_bias.data()}, batch, x.data(),
                x.data(), nullptr, act.data(), cross_out.data(), in, d_z.data(), nullptr,
                d_x0.data(), d_x.data());

  std::vector<float> all;
  for (const std::vector<float>* v :
       {&y, &d_pre, &dw, &db, &dx, &cross_out, &d_x0, &d_x, &d_kernel, &d_bias}) {
    all.insert(all.end(), v->begin(), v->end());
  }
  return all;
}

TEST(ComputeSettings, TwoThreadsWithTheirOwnSettingsGetTheirSoloResults) {
  testing::RestoreComputeSettings restore;
  SetComputeThreads(2);
  SetGemmPrecision(GemmPrecision::kFp32);
  const ComputeSettings settings[2] = {{.threads = 1, .precision = GemmPrecision::kFp32},
                                       {.threads = 2, .precision = GemmPrecision::kBf16}};
  // Alone, one after the other.
  std::vector<float> solo[2];
  for (int i = 0; i < 2; ++i) {
    ScopedComputeSettings scope(settings[i]);
    solo[i] = Workload();
  }
  if (Bf16Supported()) {
    EXPECT_NE(solo[0], solo[1]) << "bf16 rounds the GEMM inputs: the results must differ";
  }
  // Concurrently, each thread repeating its workload under its own settings.
  constexpr int kRepeats = 8;
  int mismatches[2] = {0, 0};
  int wrong_threads[2] = {0, 0};
  std::vector<std::thread> workers;
  for (int i = 0; i < 2; ++i) {
    workers.emplace_back([&, i] {
      ScopedComputeSettings scope(settings[i]);
      for (int r = 0; r < kRepeats; ++r) {
        const std::vector<float> got = Workload();
        if (got.size() != solo[i].size() ||
            std::memcmp(got.data(), solo[i].data(), got.size() * sizeof(float)) != 0) {
          ++mismatches[i];
        }
        if (ComputeThreads() != settings[i].threads) ++wrong_threads[i];
        if (RegionThreads() != settings[i].threads) ++wrong_threads[i];
      }
    });
  }
  for (std::thread& t : workers) t.join();
  for (int i = 0; i < 2; ++i) {
    EXPECT_EQ(mismatches[i], 0) << "thread " << i;
    EXPECT_EQ(wrong_threads[i], 0) << "thread " << i;
  }
  // The process defaults are untouched.
  EXPECT_EQ(ComputeThreads(), 2);
  EXPECT_EQ(GetGemmPrecision(), GemmPrecision::kFp32);
  EXPECT_EQ(ActiveGemmPrecision(), GemmPrecision::kFp32);
  EXPECT_EQ(ThreadGemmPrecision(), std::nullopt);
}

}  // namespace
}  // namespace crank
