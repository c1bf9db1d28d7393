#ifndef CRANK_KERNELS_LOSS_H_
#define CRANK_KERNELS_LOSS_H_

// Loss kernels of the ranking task: binary cross-entropy (from logits or from probabilities) and
// mean squared error, each reduced over the batch, with optional per-example sample weights.
//
// Reduction (Keras SUM_OVER_BATCH_SIZE, what tf.keras losses and tfrs.tasks.Ranking use):
//
//   loss = sum_i w_i * l_i / B          (w_i = 1 when weights == nullptr)
//
// The sum is divided by the batch size B, NOT by sum_i w_i. A weight therefore scales one
// example's contribution exactly as in tf.keras (so losses and gradients match TFRS models
// trained with sample weights), and a batch whose weights are all zero has loss 0 and zero
// gradient instead of 0 / 0.
//
// Shapes: B batch. Every pointer argument points at B contiguous floats.
//   inputs  (B)  logits z (BceWithLogits) or predictions p (BceFromProbabilities, Mse)
//   labels  (B)  y
//   weights (B)  w >= 0, or nullptr for all ones
//   grad    (B)  nullptr, or OVERWRITTEN with d loss / d input_i = w_i * dl_i / B
//
// Preconditions (checked by callers such as RankingTask, not here): B > 0, finite labels and
// finite non-negative weights; labels in [0, 1] for the cross-entropies.
//
// The loss is accumulated in double, serially in index order, so the result is bit-identical
// for a given input whatever the thread count. No allocation, no I/O; thread-safe (stateless).

#include <cstdint>

namespace crank {

// Clipping constant of the probability cross-entropy, tf.keras.backend.epsilon().
inline constexpr double kKerasEpsilon = 1e-7;

// Numerically stable binary cross-entropy from logits (tf.nn.sigmoid_cross_entropy_with_logits):
//   l = max(z, 0) - z * y + log1p(exp(-|z|)),   dl/dz = sigmoid(z) - y.
// Finite for any finite z (|z| = 100 included).
double BceWithLogits(const float* logits, const float* labels, const float* weights, int64_t b,
                     float* d_logits);

// Binary cross-entropy from probabilities as tf.keras.backend.binary_crossentropy
// (from_logits=False), with eps = 1e-7:
//   q = clip(p, eps, 1 - eps),   l = -(y * log(q + eps) + (1 - y) * log(1 - q + eps)).
// Gradient as TensorFlow's: dl/dp = -(y / (q + eps) - (1 - y) / (1 - q + eps)) where
// eps <= p <= 1 - eps, and 0 where the clip is active (p outside that range).
double BceFromProbabilities(const float* probabilities, const float* labels, const float* weights,
                            int64_t b, float* d_probabilities);

// Mean squared error: l = (p - y)^2, dl/dp = 2 (p - y).
double Mse(const float* predictions, const float* labels, const float* weights, int64_t b,
           float* d_predictions);

}  // namespace crank

#endif  // CRANK_KERNELS_LOSS_H_
