#include "crank/kernels/gemm_onednn.h"

#include <fmt/format.h>
#include <omp.h>

#include "crank/base/error.h"

#if CRANK_HAVE_ONEDNN
#include <cstddef>
#include <cstring>
#include <dnnl.hpp>
#include <memory>
#include <new>
#include <unordered_map>
#include <utility>
#endif

namespace crank {

#if CRANK_HAVE_ONEDNN
namespace {

using dnnl::memory;

// Everything that selects a primitive. beta is kept by value: it is fused as the scale of the
// sum post-op (beta == 0 means no post-op, so C's old contents, NaN included, are ignored).
// bias: the matmul's bias input, a (1, N) row added to every row of C.
struct Key {
  int64_t m, n, k, lda, ldb, ldc;
  uint32_t beta_bits;
  int threads;
  bool trans_a, trans_b, bf16, scaled, bias;
  bool operator==(const Key&) const = default;
};

struct KeyHash {
  size_t operator()(const Key& key) const {
    uint64_t h = 0xcbf29ce484222325ull;
    auto mix = [&h](uint64_t v) { h = (h ^ v) * 0x100000001b3ull + (h >> 29); };
    for (int64_t v : {key.m, key.n, key.k, key.lda, key.ldb, key.ldc})
      mix(static_cast<uint64_t>(v));
    mix(key.beta_bits);
    mix(static_cast<uint64_t>(key.threads));
    mix(uint64_t{key.trans_a} | uint64_t{key.trans_b} << 1 | uint64_t{key.bf16} << 2 |
        uint64_t{key.scaled} << 3 | uint64_t{key.bias} << 4);
    return static_cast<size_t>(h);
  }
};

// One cached primitive with memory objects whose data handles are re-pointed on each call.
struct Entry {
  dnnl::matmul primitive;
  memory a, b, c, scale, bias, scratchpad;
  size_t scratchpad_bytes = 0;
  std::unordered_map<int, memory> args;
  std::string implementation;  // e.g. "brg:avx512_core_bf16"
};

// A primitive set beyond this many shapes is dropped and rebuilt on demand.
constexpr size_t kMaxCachedPrimitives = 256;

struct AlignedFree {
  void operator()(std::byte* p) const { ::operator delete[](p, std::align_val_t{64}); }
};

// Per calling thread: oneDNN objects may be used from several threads, but the scratchpad and
// the memory objects of an entry are re-pointed per call, so each thread has its own.
struct Context {
  dnnl::engine engine{dnnl::engine::kind::cpu, 0};
  dnnl::stream stream{engine};
  std::unordered_map<Key, Entry, KeyHash> cache;
  std::unique_ptr<std::byte[], AlignedFree> scratchpad;  // grow-only
  size_t scratchpad_capacity = 0;
};

Context& ThreadContext() {
  thread_local Context context;
  return context;
}

memory::dims Strides(bool trans, int64_t ld) {
  return trans ? memory::dims{1, ld} : memory::dims{ld, 1};
}

Entry MakeEntry(const Key& key, float beta, const dnnl::engine& engine) {
  const memory::data_type in = key.bf16 ? memory::data_type::bf16 : memory::data_type::f32;
  const memory::desc a_md({key.m, key.k}, in, Strides(key.trans_a, key.lda));
  const memory::desc b_md({key.k, key.n}, in, Strides(key.trans_b, key.ldb));
  const memory::desc c_md({key.m, key.n}, memory::data_type::f32, memory::dims{key.ldc, 1});
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (key.scaled) attr.set_output_scales(0, {DNNL_RUNTIME_F32_VAL});
  if (beta != 0.0f) {
    dnnl::post_ops ops;
    ops.append_sum(beta);
    attr.set_post_ops(ops);
  }
  Entry e;
  try {
    const memory::desc bias_md({1, key.n}, memory::data_type::f32, memory::dims{key.n, 1});
    const dnnl::matmul::desc desc = key.bias ? dnnl::matmul::desc(a_md, b_md, bias_md, c_md)
                                             : dnnl::matmul::desc(a_md, b_md, c_md);
    const dnnl::matmul::primitive_desc pd(desc, attr, engine);
    e.primitive = dnnl::matmul(pd);
    e.implementation = pd.impl_info_str();
    e.a = memory(a_md, engine, nullptr);
    e.b = memory(b_md, engine, nullptr);
    e.c = memory(c_md, engine, nullptr);
    e.scratchpad = memory(pd.scratchpad_desc(), engine, nullptr);
    e.scratchpad_bytes = pd.scratchpad_desc().get_size();
    e.args = {{DNNL_ARG_SRC, e.a},
              {DNNL_ARG_WEIGHTS, e.b},
              {DNNL_ARG_DST, e.c},
              {DNNL_ARG_SCRATCHPAD, e.scratchpad}};
    if (key.bias) {
      e.bias = memory(bias_md, engine, nullptr);
      e.args.emplace(DNNL_ARG_BIAS, e.bias);
    }
    if (key.scaled) {
      e.scale = memory(memory::desc({1}, memory::data_type::f32, memory::dims{1}), engine, nullptr);
      e.args.emplace(DNNL_ARG_ATTR_OUTPUT_SCALES, e.scale);
    }
  } catch (const dnnl::error& err) {
    CRANK_CHECK(false, "oneDNN matmul m={} n={} k={} bf16={}: {}", key.m, key.n, key.k, key.bf16,
                err.what());
  }
  return e;
}

Key MakeKey(bool bf16, bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
            int64_t lda, int64_t ldb, float beta, int64_t ldc, bool bias = false) {
  uint32_t beta_bits = 0;
  if (beta != 0.0f) std::memcpy(&beta_bits, &beta, sizeof(beta_bits));
  return Key{m,       n,       k,         lda,
             ldb,     ldc,     beta_bits, omp_in_parallel() ? 1 : omp_get_max_threads(),
             trans_a, trans_b, bf16,      alpha != 1.0f,
             bias};
}

void Run(const Key& key, float alpha, const void* a, const void* b, float beta, float* c,
         const float* bias = nullptr) {
  Context& ctx = ThreadContext();
  auto it = ctx.cache.find(key);
  if (it == ctx.cache.end()) {
    if (ctx.cache.size() >= kMaxCachedPrimitives) ctx.cache.clear();
    it = ctx.cache.emplace(key, MakeEntry(key, beta, ctx.engine)).first;
  }
  Entry& e = it->second;
  if (e.scratchpad_bytes > ctx.scratchpad_capacity) {
    ctx.scratchpad.reset(new (std::align_val_t{64}) std::byte[e.scratchpad_bytes]);
    ctx.scratchpad_capacity = e.scratchpad_bytes;
  }
  e.a.set_data_handle(const_cast<void*>(a));
  e.b.set_data_handle(const_cast<void*>(b));
  e.c.set_data_handle(c);
  e.scratchpad.set_data_handle(ctx.scratchpad.get());
  if (key.scaled) e.scale.set_data_handle(&alpha);
  if (key.bias) e.bias.set_data_handle(const_cast<float*>(bias));
  e.primitive.execute(ctx.stream, e.args);
  ctx.stream.wait();
}

const char* IsaName(dnnl::cpu_isa isa) {
  switch (isa) {
    case dnnl::cpu_isa::sse41:
      return "sse41";
    case dnnl::cpu_isa::avx:
      return "avx";
    case dnnl::cpu_isa::avx2:
      return "avx2";
    case dnnl::cpu_isa::avx2_vnni:
      return "avx2_vnni";
    case dnnl::cpu_isa::avx512_mic:
      return "avx512_mic";
    case dnnl::cpu_isa::avx512_mic_4ops:
      return "avx512_mic_4ops";
    case dnnl::cpu_isa::avx512_core:
      return "avx512_core";
    case dnnl::cpu_isa::avx512_core_vnni:
      return "avx512_core_vnni";
    case dnnl::cpu_isa::avx512_core_bf16:
      return "avx512_core_bf16";
    case dnnl::cpu_isa::avx512_core_amx:
      return "avx512_core_amx";
    default:
      return "unknown isa";
  }
}

}  // namespace

bool OneDnnAvailable() { return true; }

bool OneDnnHasNativeBf16() {
  static const bool kNative = [] {
    const dnnl::cpu_isa isa = dnnl::get_effective_cpu_isa();
    return isa == dnnl::cpu_isa::avx512_core_bf16 || isa == dnnl::cpu_isa::avx512_core_amx;
  }();
  return kNative;
}

std::string OneDnnDescription() {
  const dnnl::version_t* v = dnnl::version();
  return fmt::format("oneDNN {}.{}.{} ({})", v->major, v->minor, v->patch,
                     IsaName(dnnl::get_effective_cpu_isa()));
}

void OneDnnGemmFp32(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const float* a, int64_t lda, const float* b, int64_t ldb, float beta, float* c,
                    int64_t ldc) {
  Run(MakeKey(false, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc), alpha, a, b, beta, c);
}

void OneDnnGemmFp32Bias(int64_t m, int64_t n, int64_t k, const float* a, int64_t lda,
                        const float* b, int64_t ldb, const float* bias, float* c, int64_t ldc) {
  Run(MakeKey(false, false, false, m, n, k, 1.0f, lda, ldb, 0.0f, ldc, /*bias=*/true), 1.0f, a, b,
      0.0f, c, bias);
}

void OneDnnGemmBf16(bool trans_a, bool trans_b, int64_t m, int64_t n, int64_t k, float alpha,
                    const uint16_t* a, int64_t lda, const uint16_t* b, int64_t ldb, float beta,
                    float* c, int64_t ldc) {
  Run(MakeKey(true, trans_a, trans_b, m, n, k, alpha, lda, ldb, beta, ldc), alpha, a, b, beta, c);
}

std::string OneDnnImplementation(bool bf16, bool trans_a, bool trans_b, int64_t m, int64_t n,
                                 int64_t k, int64_t lda, int64_t ldb, int64_t ldc) {
  const Key key = MakeKey(bf16, trans_a, trans_b, m, n, k, 1.0f, lda, ldb, 0.0f, ldc);
  return MakeEntry(key, 0.0f, ThreadContext().engine).implementation;
}

#else  // !CRANK_HAVE_ONEDNN

bool OneDnnAvailable() { return false; }
bool OneDnnHasNativeBf16() { return false; }
std::string OneDnnDescription() { return "no oneDNN"; }

void OneDnnGemmFp32(bool, bool, int64_t, int64_t, int64_t, float, const float*, int64_t,
                    const float*, int64_t, float, float*, int64_t) {
  CRANK_CHECK(false, "crank was built without oneDNN");
}

void OneDnnGemmFp32Bias(int64_t, int64_t, int64_t, const float*, int64_t, const float*, int64_t,
                        const float*, float*, int64_t) {
  CRANK_CHECK(false, "crank was built without oneDNN");
}

void OneDnnGemmBf16(bool, bool, int64_t, int64_t, int64_t, float, const uint16_t*, int64_t,
                    const uint16_t*, int64_t, float, float*, int64_t) {
  CRANK_CHECK(false, "crank was built without oneDNN");
}

std::string OneDnnImplementation(bool, bool, bool, int64_t, int64_t, int64_t, int64_t, int64_t,
                                 int64_t) {
  return "no oneDNN";
}

#endif  // CRANK_HAVE_ONEDNN

}  // namespace crank
