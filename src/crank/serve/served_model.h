#ifndef CRANK_SERVE_SERVED_MODEL_H_
#define CRANK_SERVE_SERVED_MODEL_H_

// ServedModel: one loaded model as the server uses it: the weights (shared read-only by the
// inference workers, each with its own InferenceWorkspace), its data mapping, its version
// and the protocol's view of it (metadata, inputs to a Batch).
//
// Immutable after LoadServedModel except for a pool of row parsers and their buffers; every method
// is thread-safe. Held by std::shared_ptr: a request keeps the model it was mapped with until its
// answer is written, so a reload never changes the model under a request.

#include <cstdint>
#include <memory>
#include <mutex>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "crank/data/batch_builder.h"
#include "crank/data/row_parser.h"
#include "crank/io/load_model.h"
#include "crank/kernels/compute_settings.h"
#include "crank/serve/request.h"
#include "crank/tensor/batch.h"

namespace crank::serve {

class ServedModel {
 public:
  // Loads `path` (LoadModel): IoError / ConfigError as LoadModel. The model runs with the
  // GEMM precision stored in its configuration (as `crank predict`) and `threads` compute
  // threads per call.
  static std::shared_ptr<const ServedModel> Load(const std::string& path, int64_t version,
                                                 int threads);

  const Ranking& model() const { return *loaded_.model; }
  const DataSpec& spec() const { return loaded_.mapping->spec(); }
  int64_t version() const { return version_; }
  double load_seconds() const { return load_seconds_; }
  const std::string& path() const { return path_; }

  // The inputs of `request` as a Batch (B examples): raw rows mapped by the model's data
  // mapping exactly as `crank predict` maps the lines of a file, or typed tensors in model
  // space (data/model_inputs.h). Throws RequestError 400 naming the row and field ("rows[3]:
  // expected 40 tab-separated columns ..., found 12") or the input ("input 'C3': ...").
  void MapInputs(const InferRequest& request, Batch* batch) const;

  // GET /v2/models/{name}: name, versions, platform, inputs and outputs with datatype and shape.
  nlohmann::json Metadata(const std::string& name) const;

 private:
  ServedModel() = default;
  // What mapping rows needs besides the model: a row parser and buffers that keep their
  // capacity from one request to the next (a request allocates only its Batch).
  struct RowScratch {
    std::unique_ptr<RowParser> parser;
    RawRow raw;
    BatchBuilder builder;
  };
  void MapRows(const InferRequest& request, Batch* batch) const;
  std::unique_ptr<RowScratch> TakeScratch() const;
  void ReturnScratch(std::unique_ptr<RowScratch> scratch) const;

  std::string path_;
  int64_t version_ = 0;
  double load_seconds_ = 0.0;
  LoadedModel loaded_;
  mutable std::mutex scratch_mu_;
  mutable std::vector<std::unique_ptr<RowScratch>> scratch_;  // idle, reused
};

}  // namespace crank::serve

#endif  // CRANK_SERVE_SERVED_MODEL_H_
