// machine_limits: what this machine can do at best, the yardstick for the other benchmarks.
//
//   - fp32 GEMM peak: large sgemm through crank::Gemm (its default backend) with 1 and 2
//     threads, best of several runs, in GFLOP/s (2 M N K flops per product).
//   - FMA peak: a register-only loop of independent fused multiply-adds (AVX-512 or AVX2 when
//     the CPU has them): the arithmetic ceiling GEMM approaches.
//   - bf16: whether the CPU has AVX512_BF16 / AMX-BF16 (detected at run time) and, with
//     AVX512_BF16, the register-only VDPBF16PS peak.
//   - memory bandwidth: a STREAM triad (a = b + s c over arrays far larger than the L3), 1 and
//     2 threads, best of several, counting 3 arrays' bytes per pass (the STREAM convention).
//
// Prints one JSON object. Usage: machine_limits [--threads=1,2] [--quick]

#include <cpuid.h>
#include <immintrin.h>
#include <omp.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "crank/base/rng.h"
#include "crank/kernels/gemm.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

std::string CpuModel() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const size_t colon = line.find(':');
      if (colon != std::string::npos) return line.substr(colon + 2);
    }
  }
  return "unknown";
}

// Escapes a string for a JSON value.
std::string Json(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) >= 0x20) out += c;
  }
  return out + "\"";
}

bool HasAmxBf16() {
  unsigned a, b, c, d;
  if (!__get_cpuid_count(7, 0, &a, &b, &c, &d)) return false;
  return (d >> 22) & 1u;
}

// Best GFLOP/s of `reps` products C(M, N) = A(M, K) B(K, N) after one warm-up.
double GemmGflops(int64_t m, int64_t n, int64_t k, int reps) {
  std::vector<float> a(static_cast<size_t>(m * k)), b(static_cast<size_t>(k * n)),
      c(static_cast<size_t>(m * n));
  crank::Rng rng(1);
  for (float& v : a) v = rng.UniformFloat() - 0.5f;
  for (float& v : b) v = rng.UniformFloat() - 0.5f;
  crank::Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    crank::Gemm(false, false, m, n, k, 1.0f, a.data(), k, b.data(), n, 0.0f, c.data(), n);
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  return 2.0 * static_cast<double>(m) * static_cast<double>(n) * static_cast<double>(k) / best /
         1e9;
}

constexpr int kAcc = 12;  // independent accumulators: enough to cover FMA latency x pipes

__attribute__((target("avx512f"))) float FmaLoop512(int64_t iters) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_set1_ps(0.001f * static_cast<float>(i));
  const __m512 x = _mm512_set1_ps(0.999999f), y = _mm512_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_fmadd_ps(acc[i], x, y);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0] + out[15];
}

__attribute__((target("avx2,fma"))) float FmaLoop256(int64_t iters) {
  __m256 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_set1_ps(0.001f * static_cast<float>(i));
  const __m256 x = _mm256_set1_ps(0.999999f), y = _mm256_set1_ps(1e-7f);
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm256_fmadd_ps(acc[i], x, y);
  }
  __m256 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm256_add_ps(s, acc[i]);
  float out[8];
  _mm256_storeu_ps(out, s);
  return out[0] + out[7];
}

// VDPBF16PS: 32 bf16 products summed pairwise into 16 fp32 lanes = 64 flops per instruction.
__attribute__((target("avx512f,avx512bf16"))) float Bf16Loop(int64_t iters) {
  __m512 acc[kAcc];
  for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_setzero_ps();
  const __m512bh x = _mm512_cvtne2ps_pbh(_mm512_set1_ps(1e-3f), _mm512_set1_ps(2e-3f));
  for (int64_t it = 0; it < iters; ++it) {
    for (int i = 0; i < kAcc; ++i) acc[i] = _mm512_dpbf16_ps(acc[i], x, x);
  }
  __m512 s = acc[0];
  for (int i = 1; i < kAcc; ++i) s = _mm512_add_ps(s, acc[i]);
  float out[16];
  _mm512_storeu_ps(out, s);
  return out[0] + out[15];
}

// Runs loop(iters) on `threads` threads at once; returns the best aggregate GFLOP/s of 3 runs.
template <typename Loop>
double RegisterPeak(Loop loop, double flops_per_iter, int threads, int64_t iters) {
  double best = 0.0;
  volatile float sink = 0.0f;
  for (int r = 0; r < 3; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel num_threads(threads)
    {
      const float v = loop(iters);
      if (v == 12345.0f) sink = v;
    }
    const double s = Seconds(t0, Clock::now());
    best = std::max(best, flops_per_iter * static_cast<double>(iters) * threads / s / 1e9);
  }
  (void)sink;
  return best;
}

// Best STREAM-triad bandwidth (GB/s, 1e9 bytes) over `reps` passes on `threads` threads.
double TriadGbs(int64_t n, int threads, int reps) {
  double* a = static_cast<double*>(std::aligned_alloc(64, static_cast<size_t>(n) * 8));
  double* b = static_cast<double*>(std::aligned_alloc(64, static_cast<size_t>(n) * 8));
  double* c = static_cast<double*>(std::aligned_alloc(64, static_cast<size_t>(n) * 8));
#pragma omp parallel for num_threads(threads) schedule(static)
  for (int64_t i = 0; i < n; ++i) {  // first touch by the thread that will use the page
    a[i] = 0.0;
    b[i] = 1.0;
    c[i] = 2.0;
  }
  const double s = 3.0;
  double best = 1e30;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
#pragma omp parallel for num_threads(threads) schedule(static)
    for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
    best = std::min(best, Seconds(t0, Clock::now()));
  }
  volatile double sink = a[n / 2];
  (void)sink;
  std::free(a);
  std::free(b);
  std::free(c);
  return 3.0 * 8.0 * static_cast<double>(n) / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  std::vector<int> thread_counts = {1, 2};
  bool quick = false;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--threads=", 10) == 0) {
      thread_counts.clear();
      for (const char* p = argv[i] + 10; *p;) {
        thread_counts.push_back(std::atoi(p));
        while (*p && *p != ',') ++p;
        if (*p == ',') ++p;
      }
    } else if (std::strcmp(argv[i], "--quick") == 0) {
      quick = true;
    } else {
      std::fprintf(stderr, "usage: machine_limits [--threads=1,2] [--quick]\n");
      return 2;
    }
  }
  const int gemm_reps = quick ? 2 : 4;
  const int64_t triad_n = int64_t{1} << 25;  // 3 arrays x 256 MiB, far beyond any L3

  __builtin_cpu_init();
  const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  const bool avx512 = __builtin_cpu_supports("avx512f");
  const bool avx512_bf16 = avx512 && __builtin_cpu_supports("avx512bf16");
  const bool amx_bf16 = HasAmxBf16();

  std::string gemm_json, peak_json, fma_json, bf16_json, triad_json;
  for (size_t t = 0; t < thread_counts.size(); ++t) {
    const int threads = thread_counts[t];
    crank::SetComputeThreads(threads);
    const double g1 = GemmGflops(2048, 2048, 2048, gemm_reps);
    const double g2 = GemmGflops(4096, 4096, 1024, gemm_reps);
    const std::string sep = t == 0 ? "" : ", ";
    char buf[512];
    std::snprintf(buf, sizeof(buf),
                  "%s{\"threads\": %d, \"m\": 2048, \"n\": 2048, \"k\": 2048, \"gflops\": %.1f}, "
                  "{\"threads\": %d, \"m\": 4096, \"n\": 4096, \"k\": 1024, \"gflops\": %.1f}",
                  sep.c_str(), threads, g1, threads, g2);
    gemm_json += buf;
    std::snprintf(buf, sizeof(buf), "%s\"%d\": %.1f", sep.c_str(), threads, std::max(g1, g2));
    peak_json += buf;

    const int64_t iters = quick ? 20'000'000 : 50'000'000;
    double fma = 0.0;
    if (avx512) {
      fma = RegisterPeak(FmaLoop512, 2.0 * 16 * kAcc, threads, iters / 2);
    } else if (avx2) {
      fma = RegisterPeak(FmaLoop256, 2.0 * 8 * kAcc, threads, iters);
    }
    std::snprintf(buf, sizeof(buf), "%s\"%d\": %.1f", sep.c_str(), threads, fma);
    fma_json += buf;
    if (avx512_bf16) {
      const double bf = RegisterPeak(Bf16Loop, 64.0 * kAcc, threads, iters / 2);
      std::snprintf(buf, sizeof(buf), "%s\"%d\": %.1f", sep.c_str(), threads, bf);
      bf16_json += buf;
    }
    const double triad = TriadGbs(triad_n, threads, quick ? 3 : 5);
    std::snprintf(buf, sizeof(buf), "%s\"%d\": %.2f", sep.c_str(), threads, triad);
    triad_json += buf;
  }

  std::printf("{\"benchmark\": \"machine_limits\", \"cpu\": %s, \"cores_online\": %d, ",
              Json(CpuModel()).c_str(), omp_get_num_procs());
  std::printf("\"blas\": %s, ", Json(crank::GemmBackendDescription()).c_str());
  std::printf(
      "\"isa\": {\"avx2_fma\": %s, \"avx512f\": %s, \"avx512_bf16\": %s, "
      "\"amx_bf16\": %s}, ",
      avx2 ? "true" : "false", avx512 ? "true" : "false", avx512_bf16 ? "true" : "false",
      amx_bf16 ? "true" : "false");
  std::printf("\"gemm\": [%s], \"gemm_peak_gflops\": {%s}, ", gemm_json.c_str(), peak_json.c_str());
  std::printf("\"fma_register_peak_gflops\": {%s}, ", fma_json.c_str());
  if (avx512_bf16) {
    std::printf("\"bf16_dot_register_peak_gflops\": {%s}, ", bf16_json.c_str());
  } else {
    std::printf("\"bf16_dot_register_peak_gflops\": null, ");
  }
  std::printf("\"stream_triad_gbs\": {%s}}\n", triad_json.c_str());
  return 0;
}
