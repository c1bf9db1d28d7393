#ifndef CRANK_FUZZ_TINY_MODEL_H_
#define CRANK_FUZZ_TINY_MODEL_H_

// The small model whose checkpoint seeds the checkpoint fuzz target
// (fuzz/corpus/fuzz_checkpoint/valid_model.ckpt) and which the target restores loaded
// checkpoints into: D = 2 dense fields (x1, x2), sparse features a (vocabulary, V = 5) and
// b (4 hash buckets, V = 5), E = 4, bottom MLP 8-4, dot interaction, top MLP 8-1, Adagrad.

#include <memory>
#include <string>

#include "crank/model/ranking_config.h"
#include "crank/optim/optimizer.h"

namespace crank::fuzz {

RankingConfig TinyModelConfig();
std::unique_ptr<Optimizer> TinyOptimizer();

// The serialized DataMapping of the tiny model's data: delimited, columns x1, x2, a, b, y,
// vocabulary of a counted on three rows.
std::string TinyMapping();

// Builds the tiny model, trains it for one step on the mapping's rows (so that the optimizer
// has state) and saves a model checkpoint to `path`. Deterministic.
void WriteTinyModelCheckpoint(const std::string& path);

}  // namespace crank::fuzz

#endif  // CRANK_FUZZ_TINY_MODEL_H_
