// Fuzz target: the body of an infer request as the server handles it (ParseInferRequest, then
// ServedModel::MapInputs and one Predict) on the tiny model (fuzz/tiny_model.h; delimited rows
// "x1,x2,a,b,y", or typed tensors dense [B, 2], a [B], b [B]).
//
// Input: the request body. Expected outcomes: predictions for every data row, or a
// serve::RequestError with an HTTP status of 400 or 413 and a non-empty message. Any other
// exception, a crash, a leak or a batch that does not match the rows is a bug.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crank/base/log.h"
#include "crank/model/ranking.h"
#include "crank/serve/request.h"
#include "crank/serve/served_model.h"
#include "fuzz_util.h"
#include "tiny_model.h"

namespace crank::fuzz {
namespace {

const serve::ServedModel& Model() {
  static const std::shared_ptr<const serve::ServedModel> model = [] {
    SetLogLevel(LogLevel::kWarning);
    const std::string path = WriteScratchFile("infer_request_model.ckpt", "");
    WriteTinyModelCheckpoint(path);
    return serve::ServedModel::Load(path, 1, 1);
  }();
  return *model;
}

}  // namespace
}  // namespace crank::fuzz

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace crank;
  const serve::ServedModel& model = fuzz::Model();
  const std::string_view body(reinterpret_cast<const char*>(data), size);
  serve::RequestLimits limits;
  limits.max_rows = 64;
  try {
    const serve::InferRequest request = serve::ParseInferRequest(body, limits);
    Batch batch;
    model.MapInputs(request, &batch);
    if (request.has_rows) {
      const size_t header = request.header.has_value() ? 0 : 1;
      FUZZ_CHECK(static_cast<size_t>(batch.size()) + header == request.rows.size(),
                 "one example per data row");
    } else {
      FUZZ_CHECK(batch.size() > 0, "typed tensors give at least one example");
    }
    InferenceWorkspace ws;
    Tensor predictions;
    model.model().Predict(batch, &ws, &predictions);
    FUZZ_CHECK(predictions.size() == batch.size(), "one prediction per example");
  } catch (const serve::RequestError& e) {
    FUZZ_CHECK(e.status() == 400 || e.status() == 413, "a bad body is a 400 or a 413");
    FUZZ_CHECK(std::string_view(e.what()).size() > 0, "the error says what is wrong");
  }
  return 0;
}
