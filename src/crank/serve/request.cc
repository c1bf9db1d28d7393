#include "crank/serve/request.h"

#include <fmt/format.h>

#include <utility>

namespace crank::serve {
namespace {

using Json = nlohmann::json;

[[noreturn]] void Bad(const std::string& what) { throw RequestError(400, what); }

const char* TypeName(const Json& j) { return j.type_name(); }

// The shape of inputs[i] as non-negative integers.
std::vector<int64_t> ReadShape(const Json& input, const std::string& where) {
  auto it = input.find("shape");
  if (it == input.end()) Bad(where + ".shape: missing");
  if (!it->is_array())
    Bad(fmt::format("{}.shape: expected an array, got {}", where, TypeName(*it)));
  std::vector<int64_t> shape;
  for (size_t d = 0; d < it->size(); ++d) {
    const Json& v = (*it)[d];
    if (v.is_number_unsigned() || (v.is_number_integer() && v.get<int64_t>() >= 0)) {
      const uint64_t u = v.get<uint64_t>();
      if (u > (uint64_t{1} << 40)) Bad(fmt::format("{}.shape[{}]: {} is too large", where, d, u));
      shape.push_back(static_cast<int64_t>(u));
    } else {
      Bad(fmt::format("{}.shape[{}]: expected a non-negative integer, got {}", where, d,
                      v.is_number() ? v.dump() : std::string(TypeName(v))));
    }
  }
  return shape;
}

void ReadRows(const Json& input, const std::string& where, const RequestLimits& limits,
              InferRequest* out) {
  auto dt = input.find("datatype");
  if (dt == input.end()) Bad(where + ".datatype: missing");
  if (!dt->is_string() || dt->get_ref<const std::string&>() != "BYTES") {
    Bad(fmt::format("{}.datatype: the rows input is BYTES, got {}", where, dt->dump()));
  }
  const std::vector<int64_t> shape = ReadShape(input, where);
  auto data = input.find("data");
  if (data == input.end()) Bad(where + ".data: missing");
  if (!data->is_array())
    Bad(fmt::format("{}.data: expected an array, got {}", where, TypeName(*data)));
  const int64_t n = static_cast<int64_t>(data->size());
  const bool shape_ok =
      (shape.size() == 1 && shape[0] == n) || (shape.size() == 2 && shape[0] == n && shape[1] == 1);
  if (!shape_ok) {
    std::string s;
    for (int64_t d : shape) s += (s.empty() ? "" : ",") + std::to_string(d);
    Bad(fmt::format("{}.shape: [{}] does not match the {} elements of data (expected [{}])", where,
                    s, n, n));
  }
  if (n == 0) Bad(where + ": no rows");
  if (n > limits.max_rows) {
    Bad(fmt::format("{}: {} rows, more than the limit of {} per request", where, n,
                    limits.max_rows));
  }
  out->rows.reserve(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    const Json& r = (*data)[static_cast<size_t>(i)];
    if (!r.is_string()) Bad(fmt::format("rows[{}]: expected a string, got {}", i, TypeName(r)));
    out->rows.push_back(r.get<std::string>());
  }
  out->has_rows = true;
}

}  // namespace

RequestError::RequestError(int status, const std::string& message)
    : std::runtime_error(message), status_(status) {}

const char* RequestError::reason() const {
  switch (status_) {
    case 400:
      return "bad_input";
    case 404:
      return "not_found";
    case 413:
      return "too_large";
    case 503:
      return "unavailable";
    default:
      return "internal";
  }
}

InferRequest ParseInferRequest(std::string_view body, const RequestLimits& limits) {
  Json j;
  try {
    // Nesting is bounded while parsing: a body of brackets cannot exhaust the stack.
    const int max_depth = limits.max_json_depth;
    j = Json::parse(body.begin(), body.end(), [max_depth](int depth, Json::parse_event_t, Json&) {
      if (depth > max_depth) {
        throw RequestError(400, fmt::format("malformed JSON: nested deeper than {}", max_depth));
      }
      return true;
    });
  } catch (const Json::exception& e) {
    Bad(fmt::format("malformed JSON: {}", e.what()));
  }
  if (!j.is_object()) Bad(fmt::format("the body must be a JSON object, got {}", TypeName(j)));
  InferRequest req;
  if (auto id = j.find("id"); id != j.end()) {
    if (!id->is_string()) Bad(fmt::format("id: expected a string, got {}", TypeName(*id)));
    req.id = id->get<std::string>();
  }
  if (auto p = j.find("parameters"); p != j.end()) {
    if (!p->is_object()) Bad(fmt::format("parameters: expected an object, got {}", TypeName(*p)));
    if (auto h = p->find("header"); h != p->end()) {
      if (!h->is_string()) {
        Bad(fmt::format("parameters.header: expected a string, got {}", TypeName(*h)));
      }
      req.header = h->get<std::string>();
    }
  }
  if (auto o = j.find("outputs"); o != j.end()) {
    if (!o->is_array()) Bad(fmt::format("outputs: expected an array, got {}", TypeName(*o)));
    for (size_t i = 0; i < o->size(); ++i) {
      const Json& out = (*o)[i];
      auto name = out.is_object() ? out.find("name") : out.end();
      if (!out.is_object() || name == out.end() || !name->is_string()) {
        Bad(fmt::format("outputs[{}]: expected an object with a string \"name\"", i));
      }
      if (name->get_ref<const std::string&>() != "predictions") {
        Bad(fmt::format("outputs[{}].name: unknown output {} (the model has 'predictions')", i,
                        name->dump()));
      }
    }
  }
  auto inputs = j.find("inputs");
  if (inputs == j.end()) Bad("inputs: missing");
  if (!inputs->is_array()) Bad(fmt::format("inputs: expected an array, got {}", TypeName(*inputs)));
  if (inputs->empty()) Bad("inputs: empty");
  int rows_index = -1;
  for (size_t i = 0; i < inputs->size(); ++i) {
    const Json& in = (*inputs)[i];
    const std::string where = fmt::format("inputs[{}]", i);
    if (!in.is_object()) Bad(fmt::format("{}: expected an object, got {}", where, TypeName(in)));
    auto name = in.find("name");
    if (name == in.end()) Bad(where + ".name: missing");
    if (!name->is_string())
      Bad(fmt::format("{}.name: expected a string, got {}", where, TypeName(*name)));
    if (name->get_ref<const std::string&>() == "rows") {
      if (rows_index >= 0) Bad(fmt::format("{}: a second input 'rows'", where));
      rows_index = static_cast<int>(i);
    }
  }
  if (rows_index >= 0) {
    if (inputs->size() != 1) {
      Bad(fmt::format("inputs[{}]: the 'rows' input must be the only input (got {} inputs)",
                      rows_index, inputs->size()));
    }
    ReadRows((*inputs)[0], "inputs[0]", limits, &req);
  } else {
    req.tensors = std::move(*inputs);
  }
  return req;
}

}  // namespace crank::serve
