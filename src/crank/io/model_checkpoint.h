#ifndef CRANK_IO_MODEL_CHECKPOINT_H_
#define CRANK_IO_MODEL_CHECKPOINT_H_

// A Ranking model saved in the checkpoint container (io/checkpoint.h): everything needed to
// evaluate, predict, or resume training bit-for-bit. Record names (docs/checkpoint_format.md):
//
//   model/kind          string   "crank-ranking"
//   model/config        string   the resolved job configuration (YAML)
//   data/mapping        string   the data mapping (hash sizes, vocabularies, statistics)
//   var/<name>          tensor   every trainable variable, e.g. var/bottom/dense_0/kernel
//   opt/<slot name>     tensor   optimizer state, e.g. opt/opt0/embedding/C1/accumulator
//   opt/iterations      int64s   [optimizer step count]
//   train/state         int64s   [global_step, epoch, batch_in_epoch, examples, finished, seed]
//   train/history       string   JSON array of per-epoch evaluation results
//   train/input         int64s   [rows, file_index, byte_offset, file_data_row, file_line,
//                                 split_row]: where the training input stands (optional;
//                                 absent in older files and when the reader cannot seek)
//
// Saving is atomic (a kill leaves the previous file intact); loading verifies checksums and
// refuses a file whose variables do not match the model built from its own configuration.

#include <cstdint>
#include <optional>
#include <string>

#include "crank/io/checkpoint.h"
#include "crank/model/ranking.h"
#include "crank/optim/optimizer.h"

namespace crank {

// Where the training input stood at the checkpoint, within epoch `epoch` after
// `batch_in_epoch` batches (the fields of the data readers' ReaderPosition, which this layer
// does not see; docs/checkpoint_format.md).
struct InputPositionRecord {
  int64_t rows = 0;           // rows delivered in the epoch
  int64_t file_index = -1;    // -1: only `rows` is known
  int64_t byte_offset = 0;    // where the next unread line starts in that file
  int64_t file_data_row = 0;  // data rows of that file before it
  int64_t file_line = 0;      // lines of that file before it
  int64_t split_row = 0;      // rows selected by the split before it, all files
};

struct TrainingState {
  int64_t global_step = 0;     // optimizer steps taken
  int64_t epoch = 0;           // current epoch (0-based)
  int64_t batch_in_epoch = 0;  // batches of `epoch` already trained on
  int64_t examples = 0;        // training examples seen
  bool finished = false;       // training completed all epochs (or stopped early)
  uint64_t seed = 0;           // the run's seed (shuffling of epoch e uses Rng(seed).Fork(e))
  std::string history_json = "[]";
  std::optional<InputPositionRecord> input;  // absent: resume re-reads batch_in_epoch batches
};

// Writes model, optimizer (may be null) and state to `path` atomically. IoError on failure.
void SaveModelCheckpoint(const std::string& path, Ranking& model, Optimizer* optimizer,
                         const std::string& config_yaml, const std::string& mapping,
                         const TrainingState& state);

class ShardedCheckpoint;

class ModelCheckpoint {
 public:
  // Loads and verifies the container; IoError if it is not a crank model. The manifest of a
  // sharded checkpoint (io/sharded_checkpoint.h) is re-assembled in memory from its files, so
  // it loads as the single file would (the whole model must fit in memory).
  static ModelCheckpoint Load(const std::string& path);
  // The same for a container already loaded (a sharded manifest is re-assembled).
  static ModelCheckpoint FromContainer(Checkpoint c);
  // The configuration, mapping, dense part and training state of a sharded checkpoint without
  // its tables (its .main file): for training that takes the tables' rows itself.
  // RestoreVariables and RestoreOptimizer then throw: the table records are not there.
  static ModelCheckpoint MainOfSharded(ShardedCheckpoint& sharded);
  // The container: records by name (a sharded checkpoint's dense records, for example).
  const Checkpoint& container() const { return checkpoint_; }

  const std::string& config_yaml() const;
  const std::string& mapping() const;
  TrainingState state() const;
  const std::string& path() const { return checkpoint_.path(); }

  // Copies every variable into `model`. IoError naming the variable when one is missing or its
  // shape differs from the model's ("the model expects (100, 16), the checkpoint has (50, 16)").
  void RestoreVariables(Ranking& model) const;
  // Creates the optimizer's slots for the model's variables and fills them from the file, and
  // restores its step count. IoError when the file has no optimizer state or it does not match.
  void RestoreOptimizer(Ranking& model, Optimizer& optimizer) const;

 private:
  explicit ModelCheckpoint(Checkpoint c) : checkpoint_(std::move(c)) {}
  Checkpoint checkpoint_;
};

}  // namespace crank

#endif  // CRANK_IO_MODEL_CHECKPOINT_H_
