#ifndef CRANK_DIST_SHARDED_CHECKPOINT_H_
#define CRANK_DIST_SHARDED_CHECKPOINT_H_

// Sharded checkpoints of hybrid-parallel training (the format: io/sharded_checkpoint.h,
// docs/checkpoint_format.md "Sharded checkpoints").
//
// SaveShardedCheckpoint, a collective: every rank writes its own shard file (its table rows
// and their embedding-optimizer state) in parallel, rank 0 also the .main file (configuration,
// mapping, dense variables, dense optimizer state, training state); each file is written
// atomically. The ranks then send rank 0 their files' sizes and CRC-32C (which is also the
// barrier: rank 0 goes on only when every shard is complete), rank 0 writes the manifest last,
// atomically, and removes the files of older generations. A kill at any moment leaves the
// previous manifest and its files intact. The generation is one more than that of the manifest
// at `path` (rank 0 reads it), so no file the previous manifest names is written.
//
// RestoreShardedCheckpoint, on each rank alone: the dense part from the .main file and this
// rank's rows under the current placement, read out of whichever old shards hold them
// (re-sharding), so a checkpoint written by any number of ranks resumes on any other.
//
// Test only: CRANK_TEST_PAUSE_CHECKPOINT="<generation>:<dir>" makes every rank, when it saves
// that generation, write "<dir>/paused-<rank>" (holding its pid) after its files are complete
// and before the manifest, then sleep up to 300 s: a test kills the job there.

#include <string>

#include "crank/dist/hybrid_parallel.h"
#include "crank/io/model_checkpoint.h"
#include "crank/io/sharded_checkpoint.h"

namespace crank {

// Every rank calls it with the same arguments (only rank 0's config, mapping and state are
// written). Returns the generation written. IoError when a file cannot be written (the job
// then ends: docs/distributed.md, "Failures").
int64_t SaveShardedCheckpoint(const std::string& path, HybridParallel& hybrid,
                              const std::string& config_yaml, const std::string& mapping,
                              const TrainingState& state);

// Copies the dense variables, this rank's table rows and, when the model has an optimizer,
// the optimizer's state and step count out of `checkpoint`. IoError naming the file and record
// when one is missing, damaged or of another shape, or a table of the model is not in it.
void RestoreShardedCheckpoint(ShardedCheckpoint& checkpoint, HybridParallel& hybrid);

}  // namespace crank

#endif  // CRANK_DIST_SHARDED_CHECKPOINT_H_
