#include "crank/io/model_checkpoint.h"

#include <cstring>
#include <set>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/io/sharded_checkpoint.h"

namespace crank {
namespace {

constexpr const char* kKind = "crank-ranking";

}  // namespace

void SaveModelCheckpoint(const std::string& path, Ranking& model, Optimizer* optimizer,
                         const std::string& config_yaml, const std::string& mapping,
                         const TrainingState& state) {
  CheckpointWriter w;
  w.AddString("model/kind", kKind);
  w.AddString("model/config", config_yaml);
  w.AddString("data/mapping", mapping);
  for (Variable* v : model.TrainableVariables()) {
    if (v->is16()) {
      w.AddTensor16("var/" + v->name, v->precision, v->value16);  // stored in its precision
    } else {
      w.AddTensor("var/" + v->name, v->value);
    }
  }
  if (optimizer != nullptr) {
    for (auto& [name, tensor] : optimizer->StateTensors()) w.AddTensor("opt/" + name, *tensor);
    w.AddInt64s("opt/iterations", {optimizer->iterations()});
  }
  w.AddInt64s("train/state", {state.global_step, state.epoch, state.batch_in_epoch, state.examples,
                              state.finished ? 1 : 0, static_cast<int64_t>(state.seed)});
  w.AddString("train/history", state.history_json);
  if (state.input) {
    const InputPositionRecord& in = *state.input;
    w.AddInt64s("train/input", {in.rows, in.file_index, in.byte_offset, in.file_data_row,
                                in.file_line, in.split_row});
  }
  w.Save(path);
}

// The records every model container has (beyond model/kind), with their sizes.
void CheckRecords(const Checkpoint& c, const std::string& path) {
  for (const char* name : {"model/config", "data/mapping", "train/state", "train/history"}) {
    if (!c.Has(name))
      throw IoError(fmt::format("{} is incomplete: it has no record '{}'", path, name));
  }
  if (c.GetInt64s("train/state").size() != 6) {
    throw IoError(fmt::format("{}: record 'train/state' has {} values, expected 6", path,
                              c.GetInt64s("train/state").size()));
  }
  if (c.Has("train/input") && c.GetInt64s("train/input").size() != 6) {
    throw IoError(fmt::format("{}: record 'train/input' has {} values, expected 6", path,
                              c.GetInt64s("train/input").size()));
  }
}

ModelCheckpoint ModelCheckpoint::Load(const std::string& path) {
  return FromContainer(Checkpoint::Load(path));
}

ModelCheckpoint ModelCheckpoint::FromContainer(Checkpoint c) {
  const std::string path = c.path();
  if (IsShardedManifest(c)) {
    ShardedCheckpoint sharded(path, c);
    LogInfo("{} is a {}; re-assembling it in memory", path, sharded.Describe());
    c = sharded.Assemble();
  }
  if (c.Has("model/kind") && c.GetString("model/kind") == kShardFileKind) {
    throw IoError(fmt::format(
        "{} is one file of a sharded checkpoint, not a model: load the checkpoint's manifest (the "
        "path before .g<generation>) or the single-file model written by --model-out",
        path));
  }
  if (!c.Has("model/kind") || c.GetString("model/kind") != kKind) {
    throw IoError(fmt::format(
        "{} is a crank checkpoint but not a ranking model (no model/kind '{}')", path, kKind));
  }
  CheckRecords(c, path);
  return ModelCheckpoint(std::move(c));
}

ModelCheckpoint ModelCheckpoint::MainOfSharded(ShardedCheckpoint& sharded) {
  Checkpoint c = sharded.Main();
  CheckRecords(c, c.path());
  return ModelCheckpoint(std::move(c));
}

const std::string& ModelCheckpoint::config_yaml() const {
  return checkpoint_.GetString("model/config");
}
const std::string& ModelCheckpoint::mapping() const {
  return checkpoint_.GetString("data/mapping");
}

TrainingState ModelCheckpoint::state() const {
  const auto& s = checkpoint_.GetInt64s("train/state");
  TrainingState t;
  t.global_step = s[0];
  t.epoch = s[1];
  t.batch_in_epoch = s[2];
  t.examples = s[3];
  t.finished = s[4] != 0;
  t.seed = static_cast<uint64_t>(s[5]);
  t.history_json = checkpoint_.GetString("train/history");
  if (checkpoint_.Has("train/input")) {
    const auto& in = checkpoint_.GetInt64s("train/input");
    t.input = InputPositionRecord{in[0], in[1], in[2], in[3], in[4], in[5]};
  }
  return t;
}

static void CopyInto(const std::string& path, const std::string& what, const Tensor& from,
                     Tensor* to) {
  if (from.shape() != to->shape()) {
    throw IoError(fmt::format("{}: {} has shape {} in the checkpoint, the model expects {}", path,
                              what, from.ShapeString(), to->ShapeString()));
  }
  if (from.size()) std::memcpy(to->data(), from.data(), sizeof(float) * from.size());
}

// Fills v's value from the record `name` (a float tensor or a 16-bit one, checked present):
// bit for bit when the record has v's precision, else widened exactly and/or rounded to nearest
// (a table saved in one precision loads into a model that stores it in another).
static void RestoreValue(const Checkpoint& c, const std::string& name, Variable* v) {
  const std::string what = "variable '" + v->name + "'";
  EmbeddingPrecision stored = EmbeddingPrecision::kFp32;
  const Tensor16* half = c.FindTensor16(name, &stored);
  const Tensor* full = half == nullptr ? &c.GetTensor(name) : nullptr;
  const std::vector<int64_t>& shape = half != nullptr ? half->shape() : full->shape();
  if (shape != v->shape()) {
    throw IoError(fmt::format("{}: {} has shape {} in the checkpoint, the model expects {}",
                              c.path(), what, ShapeToString(shape), ShapeToString(v->shape())));
  }
  const void* src = half != nullptr ? static_cast<const void*>(half->data()) : full->data();
  ConvertValues(half != nullptr ? stored : EmbeddingPrecision::kFp32, src, v->precision,
                v->size() > 0 ? v->StoredRow(0) : nullptr, v->size());
}

void ModelCheckpoint::RestoreVariables(Ranking& model) const {
  std::set<std::string> expected;
  for (Variable* v : model.TrainableVariables()) {
    const std::string name = "var/" + v->name;
    expected.insert(name);
    if (!checkpoint_.Has(name)) {
      throw IoError(fmt::format("{}: the model has variable '{}' but the checkpoint does not",
                                path(), v->name));
    }
    RestoreValue(checkpoint_, name, v);
  }
  for (const std::string& name : checkpoint_.Names()) {
    if (name.rfind("var/", 0) == 0 && !expected.count(name)) {
      throw IoError(fmt::format("{}: the checkpoint has variable '{}' that the model does not",
                                path(), name.substr(4)));
    }
  }
}

void ModelCheckpoint::RestoreOptimizer(Ranking& model, Optimizer& optimizer) const {
  if (!checkpoint_.Has("opt/iterations")) {
    throw IoError(fmt::format("{} has no optimizer state: it cannot be resumed", path()));
  }
  optimizer.Prepare(model.TrainableVariables());
  for (auto& [name, tensor] : optimizer.StateTensors()) {
    const std::string record = "opt/" + name;
    if (!checkpoint_.Has(record)) {
      throw IoError(
          fmt::format("{}: optimizer state '{}' is missing (was it saved with another optimizer?)",
                      path(), name));
    }
    CopyInto(path(), "optimizer state '" + name + "'", checkpoint_.GetTensor(record), tensor);
  }
  optimizer.set_iterations(checkpoint_.GetInt64s("opt/iterations").at(0));
}

}  // namespace crank
