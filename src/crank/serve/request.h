#ifndef CRANK_SERVE_REQUEST_H_
#define CRANK_SERVE_REQUEST_H_

// The body of an Open Inference Protocol (KServe v2) infer request, parsed and checked for its
// structure, and the error type every part of the server throws for a request it refuses.
//
// Two ways to send inputs (docs/serving.md):
//  - raw rows: one input {"name": "rows", "datatype": "BYTES", "shape": [N], "data": [N
//    strings]}, each string one line in the model's input format;
//  - typed tensors in model space (ModelInputSpecs in data/): every other input name; they
//    are read into typed arrays here (the field checks of ModelInputsFromJson) and checked
//    against the model's DataSpec by the server.
// The body is parsed with simdjson (the whole document is validated before any field is read);
// a body it refuses is parsed again with nlohmann_json for its message (line, column, what was
// expected). ParseInferRequest is pure (no model, no I/O) and thread-safe.

#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "crank/data/model_inputs.h"

namespace crank::serve {

// A refused request: the HTTP status to answer (400 bad input, 404 unknown model, 413 too
// large, 503 not ready or overloaded, 500 internal) and the message of {"error": ...}.
// `reason` is the metric label of the failure ("bad_input", "not_found", ...).
class RequestError : public std::runtime_error {
 public:
  RequestError(int status, const std::string& message);
  int status() const { return status_; }
  const char* reason() const;

 private:
  int status_;
};

struct RequestLimits {
  int64_t max_rows = 65536;  // rows (examples) per request
  int max_json_depth = 16;   // nesting of arrays and objects in the body
};

// Move-only: `rows` may view `text`, which a copy would not carry along.
struct InferRequest {
  InferRequest() = default;
  InferRequest(InferRequest&&) = default;
  InferRequest& operator=(InferRequest&&) = default;
  InferRequest(const InferRequest&) = delete;
  InferRequest& operator=(const InferRequest&) = delete;

  std::string id;  // echoed in the response when present
  // Raw rows (the "rows" input), unescaped. With a delimited model the header line is `header`
  // when the request gives parameters.header, else rows[0]. ParseInferRequest points them into
  // `text`; a caller filling rows itself keeps their text alive while the request is used.
  bool has_rows = false;
  std::vector<std::string_view> rows;
  std::unique_ptr<char[]> text;
  std::optional<std::string> header;
  // Typed tensors: the "inputs" array as sent (when !has_rows), field-checked, in order.
  std::vector<NamedTensor> tensors;
};

// Parses and checks `body`: a JSON object with a non-empty "inputs" array, optional "id"
// (string), "parameters" (object) and "outputs" (only "predictions"). Throws RequestError 400
// naming the field ("inputs[0].shape: ...") for anything else, 400 for more rows than
// limits.max_rows. Typed tensors get the messages of ModelInputsFromJson ("inputs[2].datatype:
// expected FP32 or INT64, got 'BYTES'").
InferRequest ParseInferRequest(std::string_view body, const RequestLimits& limits);

}  // namespace crank::serve

#endif  // CRANK_SERVE_REQUEST_H_
