#include "crank/kernels/activation.h"

#include <algorithm>
#include <string>

#include "crank/base/error.h"

namespace crank {
namespace {

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  return std::equal(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    auto lower = [](char ch) { return ch >= 'A' && ch <= 'Z' ? char(ch - 'A' + 'a') : ch; };
    return lower(x) == lower(y);
  });
}

}  // namespace

Activation ParseActivation(std::string_view name) {
  if (EqualsIgnoreCase(name, "linear") || EqualsIgnoreCase(name, "none")) {
    return Activation::kLinear;
  }
  if (EqualsIgnoreCase(name, "relu")) return Activation::kRelu;
  if (EqualsIgnoreCase(name, "sigmoid")) return Activation::kSigmoid;
  throw InvalidArgument("unknown activation '" + std::string(name) +
                        "'; expected one of linear, none, relu, sigmoid");
}

std::string_view ActivationName(Activation a) {
  switch (a) {
    case Activation::kLinear:
      return "linear";
    case Activation::kRelu:
      return "relu";
    case Activation::kSigmoid:
      return "sigmoid";
  }
  CRANK_CHECK(false, "unknown activation {}", static_cast<int>(a));
  return "";
}

void ActivationForward(Activation a, float* v, int64_t n) {
  switch (a) {
    case Activation::kLinear:
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i], 0.0f);
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < n; ++i) v[i] = Sigmoid(v[i]);
      return;
  }
}

void BiasActivationForward(Activation a, const float* bias, float* v, int64_t n) {
  switch (a) {
    case Activation::kLinear:
      for (int64_t i = 0; i < n; ++i) v[i] += bias[i];
      return;
    case Activation::kRelu:
      for (int64_t i = 0; i < n; ++i) v[i] = std::max(v[i] + bias[i], 0.0f);
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < n; ++i) v[i] = Sigmoid(v[i] + bias[i]);
      return;
  }
}

void ActivationBackward(Activation a, const float* y, const float* dy, int64_t n, float* d_pre) {
  switch (a) {
    case Activation::kLinear:
      if (d_pre != dy) std::copy(dy, dy + n, d_pre);
      return;
    case Activation::kRelu:
      // Both operands loaded unconditionally so the select vectorises without branches.
      for (int64_t i = 0; i < n; ++i) {
        const float g = dy[i];
        d_pre[i] = y[i] > 0.0f ? g : 0.0f;
      }
      return;
    case Activation::kSigmoid:
      for (int64_t i = 0; i < n; ++i) d_pre[i] = dy[i] * y[i] * (1.0f - y[i]);
      return;
  }
}

}  // namespace crank
