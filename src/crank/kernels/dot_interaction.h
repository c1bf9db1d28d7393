#ifndef CRANK_KERNELS_DOT_INTERACTION_H_
#define CRANK_KERNELS_DOT_INTERACTION_H_

// The DLRM dot interaction (tfrs.layers.feature_interaction.DotInteraction) on stacked features.
//
// t: (B, F, E), example b's F feature vectors as rows. Per example Z = T T^T (F, F) and the
// output is, in row-major order over Z:
//   - gathered, !self_interaction: Z[i][j] for i in 0..F-1, j in 0..i-1   width F(F-1)/2
//   - gathered,  self_interaction: Z[i][j] for i in 0..F-1, j in 0..i     width F(F+1)/2
//   - skip_gather: all of Z row-major (width F*F), the entries that would not be gathered
//     (j > i, and j == i without self_interaction) set to zero.
//
// Only the gathered entries are computed. Parallel over the batch (OpenMP, static schedule);
// every example is computed by one thread in a fixed order, so the results are bit-identical
// for any thread count. No allocation.

#include <cstdint>

namespace crank {

// Output width for F features.
int64_t DotInteractionOutputWidth(int64_t num_features, bool self_interaction, bool skip_gather);

// t: (B, F, E) -> out: (B, DotInteractionOutputWidth(F, ...)), overwritten; example b's row
// starts at out + b * ld_out (ld_out >= the width: the output may be a band of a wider matrix,
// whose other columns are left alone).
void DotInteractionForward(const float* t, int64_t batch, int64_t num_features, int64_t dim,
                           bool self_interaction, bool skip_gather, float* out, int64_t ld_out);

// The same output from the F features held apart: features[i] points at feature i's (B, E)
// matrix (row b at features[i] + b * E), so no (B, F, E) copy is made. Bit-identical to
// DotInteractionForward on those rows stacked. Parallel over blocks of examples handed out
// dynamically (a thread held up by another task leaves its blocks to the others); each example
// is still computed by one thread in the same order.
void DotInteractionForwardFeatures(const float* const* features, int64_t batch,
                                   int64_t num_features, int64_t dim, bool self_interaction,
                                   bool skip_gather, float* out, int64_t ld_out);

// d_out: (B, out width), example b's row at d_out + b * ld_d_out (ld_d_out >= the width),
// t: (B, F, E) as given to the forward -> d_t: (B, F, E), overwritten.
// dT = (dZ + dZ^T) T per example, where dZ holds d_out at the gathered positions and zero
// elsewhere (the zeroed skip_gather entries are constants and receive no gradient).
// d_t must not alias t or d_out.
void DotInteractionBackward(const float* d_out, int64_t ld_d_out, const float* t, int64_t batch,
                            int64_t num_features, int64_t dim, bool self_interaction,
                            bool skip_gather, float* d_t);

}  // namespace crank

#endif  // CRANK_KERNELS_DOT_INTERACTION_H_
