#include "crank/dist/sharded_checkpoint.h"

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "crank/base/error.h"

namespace crank {
namespace {

// The test-only pause of CRANK_TEST_PAUSE_CHECKPOINT (see the header).
void PauseForTest(int64_t generation, int rank) {
  const char* v = std::getenv("CRANK_TEST_PAUSE_CHECKPOINT");
  if (v == nullptr) return;
  const std::string spec(v);
  const size_t colon = spec.find(':');
  if (colon == std::string::npos || std::atoll(spec.substr(0, colon).c_str()) != generation) {
    return;
  }
  const std::string marker = fmt::format("{}/paused-{}", spec.substr(colon + 1), rank);
  {
    std::ofstream out(marker + ".tmp");
    out << ::getpid() << "\n";
  }
  std::rename((marker + ".tmp").c_str(), marker.c_str());
  std::this_thread::sleep_for(std::chrono::seconds(300));
}

void CopyChecked(const Tensor& from, Tensor* to, const std::string& file, const std::string& what) {
  if (from.shape() != to->shape()) {
    throw IoError(fmt::format("{}: {} has shape {} in the checkpoint, the model expects {}", file,
                              what, from.ShapeString(), to->ShapeString()));
  }
  if (from.size() > 0) std::memcpy(to->data(), from.data(), sizeof(float) * from.size());
}

}  // namespace

int64_t SaveShardedCheckpoint(const std::string& path, HybridParallel& hybrid,
                              const std::string& config_yaml, const std::string& mapping,
                              const TrainingState& state) {
  ProcessGroup& g = hybrid.group();
  Ranking& model = hybrid.model();
  DistributedEmbedding& embedding = hybrid.embedding();
  const auto& tables = embedding.tables();
  const int rank = g.rank(), n = g.size();

  std::string gen_text = rank == 0 ? std::to_string(ShardedGenerationAt(path) + 1) : "";
  g.Broadcast(&gen_text, 0);
  const int64_t generation = std::stoll(gen_text);

  Optimizer* optimizer = model.optimizer();
  std::vector<std::pair<std::string, Tensor*>> state_tensors;
  if (optimizer != nullptr) {
    optimizer->Prepare(model.TrainableVariables());
    state_tensors = optimizer->StateTensors();
  }
  // This rank's shard: its table rows and their optimizer state. `records` lists them per
  // table for the manifest: "<table index> <record name>" lines.
  CheckpointWriter shard;
  shard.AddString("model/kind", kShardFileKind);
  shard.AddInt64s("shard/of", {generation, rank, n});
  std::string records;
  for (const auto& s : embedding.LocalShards()) {
    const std::string name = "var/" + s.variable->name;
    if (s.variable->is16()) {  // in its precision: half the bytes
      shard.AddTensor16(name, s.variable->precision, s.variable->value16);
    } else {
      shard.AddTensor(name, s.variable->value);
    }
    records += fmt::format("{} {}\n", s.table, name);
  }
  for (const auto& [name, t] : state_tensors) {
    const int table = TableOfOptimizerState(name, tables);
    if (table < 0) continue;
    const int s = embedding.placement().ShardOf(table, rank);
    CRANK_CHECK(s >= 0, "optimizer state {} of a table this rank does not hold", name);
    CRANK_REQUIRE(t->rank() >= 1 && t->dim(0) == embedding.placement().shards[table][s].rows(),
                  "sharded checkpoint: optimizer state {} of shape {} is not one row per table "
                  "row",
                  name, t->ShapeString());
    shard.AddTensor("opt/" + name, *t);
    records += fmt::format("{} opt/{}\n", table, name);
  }
  const CheckpointFileInfo shard_info = shard.Save(ShardFilePath(path, generation, rank, n));

  CheckpointFileInfo main_info;
  if (rank == 0) {
    CheckpointWriter main;
    main.AddString("model/kind", kShardFileKind);
    main.AddInt64s("shard/of", {generation, 0, n});
    main.AddString("model/config", config_yaml);
    main.AddString("data/mapping", mapping);
    for (Variable* v : model.DenseTrainableVariables()) main.AddTensor("var/" + v->name, v->value);
    if (optimizer != nullptr) {
      for (const auto& [name, t] : state_tensors) {
        if (TableOfOptimizerState(name, tables) < 0) main.AddTensor("opt/" + name, *t);
      }
      main.AddInt64s("opt/iterations", {optimizer->iterations()});
    }
    main.AddInt64s("train/state",
                   {state.global_step, state.epoch, state.batch_in_epoch, state.examples,
                    state.finished ? 1 : 0, static_cast<int64_t>(state.seed)});
    main.AddString("train/history", state.history_json);
    if (state.input) {
      const InputPositionRecord& in = *state.input;
      main.AddInt64s("train/input", {in.rows, in.file_index, in.byte_offset, in.file_data_row,
                                     in.file_line, in.split_row});
    }
    main_info = main.Save(ShardedMainPath(path, generation));
  }
  PauseForTest(generation, rank);

  // Every shard complete (the gather waits for all), then the manifest.
  std::vector<std::string> all;
  g.GatherV(fmt::format("{} {}\n{}", shard_info.bytes, shard_info.records_crc32c, records), 0,
            &all);
  if (rank == 0) {
    ShardedManifest m;
    m.generation = generation;
    m.step = state.global_step;
    m.world_size = n;
    m.main_file = 0;
    const auto base = [](const std::string& p) { return p.substr(p.find_last_of('/') + 1); };
    m.files.push_back(
        {base(ShardedMainPath(path, generation)), 0, main_info.bytes, main_info.records_crc32c});
    m.tables.resize(tables.size());
    for (size_t t = 0; t < tables.size(); ++t) {
      m.tables[t].name = tables[t].name;
      m.tables[t].rows = tables[t].vocabulary_size;
      m.tables[t].precision = tables[t].precision;
      for (const TableShard& s : embedding.placement().shards[t]) {
        m.tables[t].shards.push_back({s.rank + 1, s.row_begin, s.row_end});
      }
    }
    for (int r = 0; r < n; ++r) {
      std::istringstream in(all[r]);
      ShardFile f;
      f.name = base(ShardFilePath(path, generation, r, n));
      f.rank = r;
      in >> f.bytes >> f.crc32c;
      m.files.push_back(f);
      size_t table = 0;
      std::string record;
      while (in >> table >> record) {
        CRANK_CHECK(table < tables.size(), "rank {} sent table {}", r, table);
        if (embedding.placement().shards[table].front().rank == r) {
          m.tables[table].records.push_back(record);  // the same names on every holder
        }
      }
    }
    WriteShardedManifest(path, m);
    RemoveStaleShards(path, generation);
  }
  g.Barrier();  // the manifest is in place when any rank returns
  return generation;
}

void RestoreShardedCheckpoint(ShardedCheckpoint& checkpoint, HybridParallel& hybrid) {
  Ranking& model = hybrid.model();
  DistributedEmbedding& embedding = hybrid.embedding();
  const auto& tables = embedding.tables();
  const Checkpoint& main = checkpoint.Main();
  const std::string& where = main.path();
  for (Variable* v : model.DenseTrainableVariables()) {
    const std::string record = "var/" + v->name;
    if (!main.Has(record)) {
      throw IoError(fmt::format("{}: the model has variable '{}' but the checkpoint does not",
                                where, v->name));
    }
    CopyChecked(main.GetTensor(record), &v->value, where, "variable '" + v->name + "'");
  }
  // This rank's rows of each table it holds, with their optimizer state.
  std::map<size_t, std::map<std::string, StoredRows>> rows;
  for (const auto& s : embedding.LocalShards()) {
    const TableConfig& tc = tables[s.table];
    const int t = checkpoint.TableIndex(tc.name);
    if (t < 0) {
      throw IoError(fmt::format("{}: the model has table '{}' but the checkpoint does not",
                                checkpoint.path(), tc.name));
    }
    const int64_t saved_rows = checkpoint.manifest().tables[t].rows;
    if (saved_rows != tc.vocabulary_size) {
      throw IoError(fmt::format("{}: table '{}' has {} rows in the checkpoint, the model {}",
                                checkpoint.path(), tc.name, saved_rows, tc.vocabulary_size));
    }
    std::map<std::string, StoredRows>& r = rows[s.table];
    r = checkpoint.ReadTableRows(static_cast<size_t>(t), s.row_begin, s.row_end);
    const std::string record = "var/" + s.variable->name;
    const auto it = r.find(record);
    if (it == r.end()) {
      throw IoError(
          fmt::format("{}: table '{}' has no record '{}'", checkpoint.path(), tc.name, record));
    }
    // In the shard's precision: converted when the checkpoint stored the table in another.
    Variable& v = *s.variable;
    if (it->second.shape() != v.shape()) {
      throw IoError(
          fmt::format("{}: rows [{}, {}) of '{}' have shape {} in the checkpoint, the "
                      "model expects {}",
                      checkpoint.path(), s.row_begin, s.row_end, v.name,
                      ShapeToString(it->second.shape()), ShapeToString(v.shape())));
    }
    ConvertValues(it->second.precision, it->second.data(), v.precision, v.StoredRow(0), v.size());
    r.erase(it);
  }
  Optimizer* optimizer = model.optimizer();
  if (optimizer == nullptr) return;
  if (!main.Has("opt/iterations")) {
    throw IoError(fmt::format("{} has no optimizer state: it cannot be resumed", where));
  }
  optimizer->Prepare(model.TrainableVariables());
  for (const auto& [name, dst] : optimizer->StateTensors()) {
    const std::string record = "opt/" + name;
    const int table = TableOfOptimizerState(name, tables);
    const Tensor* src = nullptr;
    if (table < 0) {
      if (main.Has(record)) src = &main.GetTensor(record);
    } else {
      const auto t = rows.find(static_cast<size_t>(table));
      if (t != rows.end() && t->second.count(record)) src = &t->second.at(record).values;
    }
    if (src == nullptr) {
      throw IoError(
          fmt::format("{}: optimizer state '{}' is missing (was it saved with another optimizer?)",
                      checkpoint.path(), name));
    }
    CopyChecked(*src, dst, checkpoint.path(), "optimizer state '" + name + "'");
  }
  optimizer->set_iterations(main.GetInt64s("opt/iterations").at(0));
}

}  // namespace crank
