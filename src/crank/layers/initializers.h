#ifndef CRANK_LAYERS_INITIALIZERS_H_
#define CRANK_LAYERS_INITIALIZERS_H_

// Weight initialisers with the Keras definitions, drawing from crank's portable Rng so a seed
// gives the same weights on every platform. Values are written in row-major order.

#include "crank/base/rng.h"
#include "crank/tensor/tensor.h"

namespace crank {

// w: (fan_in, fan_out) (a rank-1 (n) tensor counts as fan_in = fan_out = n, as Keras).
// Fills with U(-l, l), l = sqrt(6 / (fan_in + fan_out)) (tf.keras GlorotUniform).
// Throws InvalidArgument for another rank or an empty tensor.
void InitGlorotUniform(Tensor* w, Rng& rng);

// The Glorot-uniform limit sqrt(6 / (fan_in + fan_out)).
double GlorotUniformLimit(int64_t fan_in, int64_t fan_out);

// Fills w (any shape) with N(0, stddev^2) re-drawn until |x| <= 2 * stddev
// (tf.keras TruncatedNormal with mean 0). stddev >= 0, else InvalidArgument.
void InitTruncatedNormal(Tensor* w, double stddev, Rng& rng);

}  // namespace crank

#endif  // CRANK_LAYERS_INITIALIZERS_H_
