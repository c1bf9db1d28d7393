#include "crank/serve/request.h"

#include <fmt/format.h>
#include <simdjson.h>

#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace crank::serve {
namespace {

using simdjson::dom::array;
using simdjson::dom::element;
using simdjson::dom::element_type;
using simdjson::dom::object;

[[noreturn]] void Bad(const std::string& what) { throw RequestError(400, what); }

// The JSON type names of nlohmann_json's type_name(), which the messages have always used.
const char* TypeName(element e) {
  switch (e.type()) {
    case element_type::ARRAY:
      return "array";
    case element_type::OBJECT:
      return "object";
    case element_type::INT64:
    case element_type::UINT64:
    case element_type::DOUBLE:
      return "number";
    case element_type::STRING:
      return "string";
    case element_type::BOOL:
      return "boolean";
    case element_type::NULL_VALUE:
      return "null";
  }
  return "unknown";
}

// The compact JSON text of `e` (as nlohmann_json's dump() wrote it in the messages).
std::string Dump(element e) { return simdjson::minify(e); }

// The value of `key` in `o`, or nullopt. With a repeated key the last one counts, as
// nlohmann_json parsed it.
std::optional<element> Find(object o, std::string_view key) {
  std::optional<element> found;
  for (const auto field : o) {
    if (field.key == key) found = field.value;
  }
  return found;
}

// The body parsed by simdjson, which reads a buffer padded by SIMDJSON_PADDING bytes. Each
// connection thread keeps one parser and one padded buffer for bodies up to kReusedBytes, so a
// request allocates neither (a parser takes about 15 bytes per byte of capacity: at most ~1 MB
// a thread); a larger body gets its own, freed after the request, so that memory does not stay
// at the largest body each thread has seen.
constexpr size_t kReusedBytes = size_t{64} << 10;

struct JsonParser {
  simdjson::dom::parser parser;
  std::unique_ptr<char[]> padded;
  size_t padded_size = 0;
  size_t max_depth = 0;
};

simdjson::error_code Parse(std::string_view body, size_t max_depth, JsonParser* p, element* root) {
  if (p->max_depth != max_depth) {
    if (const auto err = p->parser.allocate(std::max<size_t>(body.size(), 4096), max_depth)) {
      return err;
    }
    p->max_depth = max_depth;
  }
  if (p->padded == nullptr || p->padded_size < body.size()) {
    p->padded = std::make_unique<char[]>(body.size() + simdjson::SIMDJSON_PADDING);
    p->padded_size = body.size();
  }
  std::memcpy(p->padded.get(), body.data(), body.size());
  std::memset(p->padded.get() + body.size(), 0, simdjson::SIMDJSON_PADDING);
  return p->parser.parse(p->padded.get(), body.size(), false).get(*root);
}

// Refused by simdjson: the message nlohmann_json gives for the same body (where and what),
// else simdjson's own.
[[noreturn]] void Malformed(std::string_view body, int max_depth, simdjson::error_code err) {
  using Json = nlohmann::json;
  try {
    // Nesting is bounded while parsing: a body of brackets cannot exhaust the stack.
    const Json parsed =
        Json::parse(body.begin(), body.end(), [max_depth](int depth, Json::parse_event_t, Json&) {
          if (depth > max_depth) {
            throw RequestError(400,
                               fmt::format("malformed JSON: nested deeper than {}", max_depth));
          }
          return true;
        });
  } catch (const Json::exception& e) {
    Bad(fmt::format("malformed JSON: {}", e.what()));
  }
  if (err == simdjson::DEPTH_ERROR) {
    Bad(fmt::format("malformed JSON: nested deeper than {}", max_depth));
  }
  Bad(fmt::format("malformed JSON: {}", simdjson::error_message(err)));
}

// The shape of inputs[i] as non-negative integers.
std::vector<int64_t> ReadShape(object input, const std::string& where) {
  const std::optional<element> s = Find(input, "shape");
  if (!s) Bad(where + ".shape: missing");
  if (!s->is_array()) Bad(fmt::format("{}.shape: expected an array, got {}", where, TypeName(*s)));
  std::vector<int64_t> shape;
  size_t d = 0;
  for (const element v : array(*s)) {
    uint64_t u = 0;
    if (v.type() == element_type::UINT64) {
      u = uint64_t(v);
    } else if (v.type() == element_type::INT64 && int64_t(v) >= 0) {
      u = static_cast<uint64_t>(int64_t(v));
    } else {
      Bad(fmt::format("{}.shape[{}]: expected a non-negative integer, got {}", where, d,
                      v.is_number() ? Dump(v) : std::string(TypeName(v))));
    }
    if (u > (uint64_t{1} << 40)) Bad(fmt::format("{}.shape[{}]: {} is too large", where, d, u));
    shape.push_back(static_cast<int64_t>(u));
    ++d;
  }
  return shape;
}

void ReadRows(object input, std::string_view body, const std::string& where,
              const RequestLimits& limits, InferRequest* out) {
  const std::optional<element> dt = Find(input, "datatype");
  if (!dt) Bad(where + ".datatype: missing");
  if (!dt->is_string() || std::string_view(*dt) != "BYTES") {
    Bad(fmt::format("{}.datatype: the rows input is BYTES, got {}", where, Dump(*dt)));
  }
  const std::vector<int64_t> shape = ReadShape(input, where);
  const std::optional<element> data = Find(input, "data");
  if (!data) Bad(where + ".data: missing");
  if (!data->is_array()) {
    Bad(fmt::format("{}.data: expected an array, got {}", where, TypeName(*data)));
  }
  const array rows(*data);
  const int64_t n = static_cast<int64_t>(rows.size());
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
  // The rows' unescaped text, one after another in one buffer: never longer than the body.
  out->text = std::make_unique<char[]>(body.size());
  char* at = out->text.get();
  out->rows.reserve(static_cast<size_t>(n));
  int64_t i = 0;
  for (const element r : rows) {
    if (!r.is_string()) Bad(fmt::format("rows[{}]: expected a string, got {}", i, TypeName(r)));
    const std::string_view s(r);
    std::memcpy(at, s.data(), s.size());
    out->rows.emplace_back(at, s.size());
    at += s.size();
    ++i;
  }
  out->has_rows = true;
}

// The typed tensors of the "inputs" array with the field checks and messages of
// ModelInputsFromJson (data/model_inputs.h).
std::vector<NamedTensor> ReadTensors(array inputs) {
  std::vector<NamedTensor> out;
  out.reserve(inputs.size());
  size_t i = 0;
  for (const element e : inputs) {
    const auto fail = [i](const std::string& field, const std::string& problem) {
      Bad(fmt::format("inputs[{}]{}: {}", i, field, problem));
    };
    if (!e.is_object()) fail("", fmt::format("expected an object, got {}", TypeName(e)));
    const object j(e);
    const auto field = [&](const char* key) {
      const std::optional<element> v = Find(j, key);
      if (!v) fail("", fmt::format("missing field '{}'", key));
      return *v;
    };
    NamedTensor t;
    const element name = field("name");
    if (!name.is_string() || std::string_view(name).empty()) {
      fail(".name", "expected a non-empty string");
    }
    t.name = std::string_view(name);
    const element shape = field("shape");
    if (!shape.is_array()) {
      fail(".shape", fmt::format("expected an array, got {}", TypeName(shape)));
    }
    size_t k = 0;
    for (const element d : array(shape)) {
      if (d.type() != element_type::INT64 || int64_t(d) < 0) {
        fail(fmt::format(".shape[{}]", k),
             fmt::format("expected a non-negative integer, got {}", Dump(d)));
      }
      t.shape.push_back(int64_t(d));
      ++k;
    }
    const element datatype = field("datatype");
    const std::string dt = datatype.is_string() ? std::string(datatype) : Dump(datatype);
    if (!ParseInputDType(dt, &t.dtype))
      fail(".datatype", fmt::format("expected FP32 or INT64, got '{}'", dt));
    const element data = field("data");
    if (!data.is_array()) {
      fail(".data", fmt::format("expected a flat array, got {}", TypeName(data)));
    }
    const array values(data);
    int64_t count = 0;
    try {
      count = ShapeElementCount(fmt::format("inputs[{}].shape", i), t.shape);
    } catch (const std::exception& ex) {
      Bad(ex.what());
    }
    if (static_cast<int64_t>(values.size()) != count) {
      fail(".data", fmt::format("shape [{}] holds {} values, got {}", fmt::join(t.shape, ", "),
                                count, values.size()));
    }
    k = 0;
    if (t.dtype == InputDType::kFp32) {
      t.fp32.reserve(static_cast<size_t>(count));
      for (const element v : values) {
        double x = 0.0;
        switch (v.type()) {
          case element_type::DOUBLE:
            x = double(v);
            break;
          case element_type::INT64:
            x = static_cast<double>(int64_t(v));
            break;
          case element_type::UINT64:
            x = static_cast<double>(uint64_t(v));
            break;
          default:
            fail(fmt::format(".data[{}]", k), fmt::format("expected a number, got {}", Dump(v)));
        }
        t.fp32.push_back(static_cast<float>(x));
        ++k;
      }
    } else {
      t.int64.reserve(static_cast<size_t>(count));
      for (const element v : values) {
        if (v.type() != element_type::INT64) {
          fail(fmt::format(".data[{}]", k),
               fmt::format("expected a 64-bit integer, got {}", Dump(v)));
        }
        t.int64.push_back(int64_t(v));
        ++k;
      }
    }
    out.push_back(std::move(t));
    ++i;
  }
  return out;
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
  // Depth as nlohmann_json's parser callback counts it: the root's members are at depth 1, so
  // simdjson, which counts open containers, allows one more.
  const size_t max_depth = static_cast<size_t>(limits.max_json_depth) + 1;
  thread_local JsonParser reused;
  std::unique_ptr<JsonParser> own;
  JsonParser* parser = &reused;
  if (body.size() > kReusedBytes) {
    own = std::make_unique<JsonParser>();
    parser = own.get();
  }
  element j;
  if (const simdjson::error_code err = Parse(body, max_depth, parser, &j)) {
    Malformed(body, limits.max_json_depth, err);
  }
  if (!j.is_object()) Bad(fmt::format("the body must be a JSON object, got {}", TypeName(j)));
  const object root(j);
  InferRequest req;
  if (const auto id = Find(root, "id")) {
    if (!id->is_string()) Bad(fmt::format("id: expected a string, got {}", TypeName(*id)));
    req.id = std::string_view(*id);
  }
  if (const auto p = Find(root, "parameters")) {
    if (!p->is_object()) Bad(fmt::format("parameters: expected an object, got {}", TypeName(*p)));
    if (const auto h = Find(object(*p), "header")) {
      if (!h->is_string()) {
        Bad(fmt::format("parameters.header: expected a string, got {}", TypeName(*h)));
      }
      req.header = std::string(std::string_view(*h));
    }
  }
  if (const auto o = Find(root, "outputs")) {
    if (!o->is_array()) Bad(fmt::format("outputs: expected an array, got {}", TypeName(*o)));
    size_t i = 0;
    for (const element out : array(*o)) {
      const std::optional<element> name =
          out.is_object() ? Find(object(out), "name") : std::nullopt;
      if (!name || !name->is_string()) {
        Bad(fmt::format("outputs[{}]: expected an object with a string \"name\"", i));
      }
      if (std::string_view(*name) != "predictions") {
        Bad(fmt::format("outputs[{}].name: unknown output {} (the model has 'predictions')", i,
                        Dump(*name)));
      }
      ++i;
    }
  }
  const std::optional<element> inputs_el = Find(root, "inputs");
  if (!inputs_el) Bad("inputs: missing");
  if (!inputs_el->is_array()) {
    Bad(fmt::format("inputs: expected an array, got {}", TypeName(*inputs_el)));
  }
  const array inputs(*inputs_el);
  const size_t count = inputs.size();
  if (count == 0) Bad("inputs: empty");
  int rows_index = -1;
  std::optional<element> first;
  size_t i = 0;
  for (const element in : inputs) {
    const std::string where = fmt::format("inputs[{}]", i);
    if (!first) first = in;
    if (!in.is_object()) Bad(fmt::format("{}: expected an object, got {}", where, TypeName(in)));
    const std::optional<element> name = Find(object(in), "name");
    if (!name) Bad(where + ".name: missing");
    if (!name->is_string()) {
      Bad(fmt::format("{}.name: expected a string, got {}", where, TypeName(*name)));
    }
    if (std::string_view(*name) == "rows") {
      if (rows_index >= 0) Bad(fmt::format("{}: a second input 'rows'", where));
      rows_index = static_cast<int>(i);
    }
    ++i;
  }
  if (rows_index >= 0) {
    if (count != 1) {
      Bad(fmt::format("inputs[{}]: the 'rows' input must be the only input (got {} inputs)",
                      rows_index, count));
    }
    ReadRows(object(*first), body, "inputs[0]", limits, &req);
  } else {
    req.tensors = ReadTensors(inputs);
  }
  return req;
}

}  // namespace crank::serve
