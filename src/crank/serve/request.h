#ifndef CRANK_SERVE_REQUEST_H_
#define CRANK_SERVE_REQUEST_H_

// The body of an Open Inference Protocol (KServe v2) infer request, parsed and checked for its
// structure, and the error type every part of the server throws for a request it refuses.
//
// Two ways to send inputs (docs/serving.md):
//  - raw rows: one input {"name": "rows", "datatype": "BYTES", "shape": [N], "data": [N
//    strings]}, each string one line in the model's input format;
//  - typed tensors in model space (ModelInputSpecs in data/): every other input name; they
//    are kept as JSON here and mapped against the model's DataSpec by the server.
// ParseInferRequest is pure (no model, no I/O) and thread-safe.

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

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

struct InferRequest {
  std::string id;  // echoed in the response when present
  // Raw rows (the "rows" input). With a delimited model the header line is `header` when the
  // request gives parameters.header, else rows[0].
  bool has_rows = false;
  std::vector<std::string> rows;
  std::optional<std::string> header;
  // Typed tensors: the "inputs" array as sent (when !has_rows).
  nlohmann::json tensors;
};

// Parses and checks `body`: a JSON object with a non-empty "inputs" array, optional "id"
// (string), "parameters" (object) and "outputs" (only "predictions"). Throws RequestError 400
// naming the field ("inputs[0].shape: ...") for anything else, 400 for more rows than
// limits.max_rows.
InferRequest ParseInferRequest(std::string_view body, const RequestLimits& limits);

}  // namespace crank::serve

#endif  // CRANK_SERVE_REQUEST_H_
