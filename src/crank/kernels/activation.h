#ifndef CRANK_KERNELS_ACTIVATION_H_
#define CRANK_KERNELS_ACTIVATION_H_

// Element-wise activations of dense layers (Keras names) and their derivatives.
//
// Derivatives are computed from the post-activation output y, so a layer caches y only:
//   linear:  y = z,              dz = dy
//   relu:    y = max(z, 0),      dz = dy * [y > 0]   (0 at z = 0, as TensorFlow)
//   sigmoid: y = 1 / (1 + e^-z), dz = dy * y * (1 - y)
// The functions below are single-threaded, allocation-free and reentrant.

#include <cmath>
#include <cstdint>
#include <string_view>

namespace crank {

enum class Activation { kLinear, kRelu, kSigmoid };

// "linear" or "none" (Keras activation=None), "relu", "sigmoid"; ASCII case-insensitive.
// Anything else throws InvalidArgument naming the value and the accepted names.
Activation ParseActivation(std::string_view name);

// "linear", "relu" or "sigmoid" (round-trips through ParseActivation).
std::string_view ActivationName(Activation a);

// Numerically stable logistic function (no overflow for any finite z).
inline float Sigmoid(float z) {
  if (z >= 0.0f) return 1.0f / (1.0f + std::exp(-z));
  const float e = std::exp(z);
  return e / (1.0f + e);
}

// v: (n), pre-activations in, activations out (in place).
void ActivationForward(Activation a, float* v, int64_t n);

// v: (n) = act(v + bias) in place; bias: (n). Used per row by LinearForward.
void BiasActivationForward(Activation a, const float* bias, float* v, int64_t n);

// y: (n) post-activation outputs, dy: (n) -> d_pre: (n) = dy * act'(z) (overwritten).
// d_pre may alias dy.
void ActivationBackward(Activation a, const float* y, const float* dy, int64_t n, float* d_pre);

}  // namespace crank

#endif  // CRANK_KERNELS_ACTIVATION_H_
