// `crank map`: rows of a data file as the model-space input tensors of a model, written as an
// Open Inference Protocol request body (docs/export.md).

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/batch_reader.h"
#include "crank/data/model_inputs.h"
#include "crank/io/atomic_file.h"
#include "crank/io/load_model.h"
#include "crank/train/job_config.h"

namespace crank::cli {
namespace {

// The first `rows` examples of each batch, appended into one batch (built by Finish).
class RowCollector {
 public:
  explicit RowCollector(const DataSpec& spec) : num_dense_(spec.num_dense()) {
    all_.sparse.resize(spec.sparse.size());
    for (SparseFeature& s : all_.sparse) s.Clear();
  }
  void Append(const Batch& src, int64_t rows) {
    dense_.insert(dense_.end(), src.dense.data(), src.dense.data() + rows * num_dense_);
    for (size_t f = 0; f < src.sparse.size(); ++f) {
      const SparseFeature& s = src.sparse[f];
      SparseFeature& t = all_.sparse[f];
      const int64_t end = s.offsets[static_cast<size_t>(rows)];
      const int64_t base = static_cast<int64_t>(t.ids.size());
      t.ids.insert(t.ids.end(), s.ids.begin(), s.ids.begin() + end);
      if (!s.weights.empty()) {
        t.weights.insert(t.weights.end(), s.weights.begin(), s.weights.begin() + end);
      }
      for (int64_t i = 1; i <= rows; ++i) {
        t.offsets.push_back(base + s.offsets[static_cast<size_t>(i)]);
      }
    }
    rows_ += rows;
  }
  int64_t rows() const { return rows_; }
  const Batch& Finish() {
    all_.dense = Tensor({rows_, num_dense_}, dense_);
    return all_;
  }

 private:
  int64_t num_dense_;
  int64_t rows_ = 0;
  std::vector<float> dense_;  // (rows, D)
  Batch all_;
};

}  // namespace

Action AddMapCommand(CLI::App& app) {
  struct Flags {
    std::string model, out, bad_rows;
    std::vector<std::string> data;
    int64_t rows = -1;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* c = app.add_subcommand(
      "map",
      "write the model-space input tensors of data rows as an Open Inference Protocol request "
      "body ({\"inputs\": [...]}) for the exported ONNX graph or crank serve");
  c->add_option("--model", f->model, "a model written by crank train")->required();
  c->add_option("--data", f->data, "input file(s), comma-separated, in the model's data format")
      ->required()
      ->delimiter(',');
  c->add_option("--out", f->out, "the request body (JSON) to write")->required();
  c->add_option("--rows", f->rows, "map at most the first N rows (default: all)");
  auto* bad = c->add_option("--bad-rows", f->bad_rows,
                            "malformed rows: fail (default, as predict) | skip (count and warn)");
  return [=] {
    if (c->count("--rows") && f->rows < 0) {
      throw ConfigError(fmt::format("--rows: expected a count >= 0, got {}", f->rows));
    }
    LoadedModel m = LoadModel(f->model);
    const ErrorPolicy policy = bad->count() ? ParseBadRows(f->bad_rows) : ErrorPolicy::kFail;
    auto mapping = std::make_shared<const DataMapping>(m.mapping->WithErrorPolicy(policy));
    ReaderOptions ro;
    ro.batch_size = 4096;
    ro.split = RowSplit::kAll;
    auto reader = MakeBatchReader(mapping, f->data, ro, /*in_memory=*/false);
    const DataSpec& spec = mapping->spec();
    RowCollector collected(spec);
    Batch batch;
    while ((f->rows < 0 || collected.rows() < f->rows) && reader->Next(&batch)) {
      const int64_t left = f->rows - collected.rows();
      collected.Append(batch, f->rows < 0 ? batch.size() : std::min(batch.size(), left));
    }
    if (reader->stats().rows_skipped > 0) {
      LogWarning("{} malformed rows were skipped and are not in the request",
                 reader->stats().rows_skipped);
    }
    nlohmann::json body;
    body["inputs"] = ModelInputsToJson(BatchToModelInputs(collected.Finish(), spec));
    const std::string text = body.dump() + "\n";
    AtomicFileWriter out(f->out);
    out.Append(text.data(), text.size());
    out.Commit();
    LogInfo("wrote the model inputs of {} rows to {}", collected.rows(), f->out);
  };
}

}  // namespace crank::cli
