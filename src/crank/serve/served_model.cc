#include "crank/serve/served_model.h"

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include <chrono>

#include "crank/base/error.h"
#include "crank/data/batch_builder.h"
#include "crank/data/mapping.h"
#include "crank/data/model_inputs.h"
#include "crank/kernels/gemm.h"

namespace crank::serve {
namespace {

bool IsBlank(std::string_view s) {
  for (char c : s) {
    if (c != ' ' && c != '\t') return false;
  }
  return true;
}

// The GEMM precision the model was trained with (train.precision of its stored configuration;
// fp32 when absent), as `crank predict` uses it. Only that key is read: the other sections are
// LoadModel's business.
GemmPrecision StoredPrecision(const std::string& yaml, const std::string& path) {
  try {
    const YAML::Node root = YAML::Load(yaml);
    const YAML::Node p = root["train"] ? root["train"]["precision"] : YAML::Node();
    if (!p || !p.IsScalar()) return GemmPrecision::kFp32;
    return ParseGemmPrecision(p.Scalar());
  } catch (const std::exception& e) {
    throw ConfigError(
        fmt::format("{} (stored configuration): train.precision: {}", path, e.what()));
  }
}

}  // namespace

std::shared_ptr<const ServedModel> ServedModel::Load(const std::string& path, int64_t version,
                                                     int threads) {
  const auto start = std::chrono::steady_clock::now();
  std::shared_ptr<ServedModel> m(new ServedModel());
  m->path_ = path;
  m->version_ = version;
  m->loaded_ = LoadModel(path);
  ComputeSettings settings;
  settings.threads = threads;
  settings.precision = StoredPrecision(m->loaded_.config_yaml, path);
  m->loaded_.model->SetComputeSettings(settings);
  // Rows that do not parse are refused (400), never skipped: one prediction per row.
  m->loaded_.mapping =
      std::make_shared<const DataMapping>(m->loaded_.mapping->WithErrorPolicy(ErrorPolicy::kFail));
  m->ReturnScratch(m->TakeScratch());  // joined files load now, not in the first request
  m->load_seconds_ =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return m;
}

std::unique_ptr<ServedModel::RowScratch> ServedModel::TakeScratch() const {
  {
    std::lock_guard<std::mutex> lock(scratch_mu_);
    if (!scratch_.empty()) {
      std::unique_ptr<RowScratch> s = std::move(scratch_.back());
      scratch_.pop_back();
      return s;
    }
  }
  auto s = std::make_unique<RowScratch>();
  s->parser = MakeRowParser(loaded_.mapping->config(), loaded_.mapping->schema());
  return s;
}

void ServedModel::ReturnScratch(std::unique_ptr<RowScratch> scratch) const {
  std::lock_guard<std::mutex> lock(scratch_mu_);
  scratch_.push_back(std::move(scratch));
}

void ServedModel::MapInputs(const InferRequest& request, Batch* batch) const {
  if (request.has_rows) {
    MapRows(request, batch);
    return;
  }
  // Typed tensors in model space (data/model_inputs.h): InvalidArgument names the input.
  try {
    *batch = ModelInputsToBatch(request.tensors, spec());
  } catch (const InvalidArgument& e) {
    throw RequestError(400, e.what());
  }
  if (batch->size() == 0) throw RequestError(400, "inputs: no examples (B = 0)");
}

void ServedModel::MapRows(const InferRequest& request, Batch* batch) const {
  const DataMapping& mapping = *loaded_.mapping;
  const int64_t max_line = mapping.config().max_line_bytes;
  std::unique_ptr<RowScratch> scratch = TakeScratch();
  struct Return {
    const ServedModel* self;
    std::unique_ptr<RowScratch>* scratch;
    ~Return() { self->ReturnScratch(std::move(*scratch)); }
  } give_back{this, &scratch};
  RowParser* parser = scratch->parser.get();

  // The text of rows[i] as a file's line: one line, "\r\n" ending tolerated.
  const auto line_of = [&](size_t i) {
    std::string_view line = request.rows[i];
    if (!line.empty() && line.back() == '\n') line.remove_suffix(1);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    if (line.find('\n') != std::string_view::npos) {
      throw RequestError(400,
                         fmt::format("rows[{}]: holds a line break (one line per element)", i));
    }
    if (static_cast<int64_t>(line.size()) > max_line) {
      throw RequestError(400, fmt::format("rows[{}]: {} bytes, longer than the model's "
                                          "max_line_bytes ({})",
                                          i, line.size(), max_line));
    }
    return line;
  };

  size_t first = 0;
  parser->BeginFile("request");
  if (parser->ExpectsHeader()) {
    const bool in_params = request.header.has_value();
    const std::string where = in_params ? "parameters.header" : "rows[0] (the header line)";
    std::string_view header;
    if (in_params) {
      header = *request.header;
    } else {
      header = line_of(0);
      first = 1;
    }
    try {
      parser->ParseHeader(header);
    } catch (const DataError& e) {
      std::string what = e.what();
      if (what.rfind("request: ", 0) == 0) what = what.substr(9);
      throw RequestError(400, fmt::format("{}: {}", where, what));
    }
  }
  if (first >= request.rows.size()) {
    throw RequestError(400, "inputs[0]: no data rows after the header line");
  }
  BatchBuilder& builder = scratch->builder;
  builder.Begin(mapping.spec(), batch);
  const size_t rows = request.rows.size() - first;
  for (SparseFeature& f : batch->sparse) {  // one id per row at least: grown once, not doubled
    f.ids.reserve(rows);
    f.offsets.reserve(rows + 1);
  }
  RawRow& raw = scratch->raw;
  std::string error;
  for (size_t i = first; i < request.rows.size(); ++i) {
    const std::string_view line = line_of(i);
    if (IsBlank(line)) throw RequestError(400, fmt::format("rows[{}]: empty row", i));
    error.clear();
    if (!parser->Parse(line, &raw, &error)) {
      throw RequestError(400, fmt::format("rows[{}]: {}", i, error));
    }
    mapping.Apply(raw, &builder);
  }
  builder.Finish();
}

nlohmann::json ServedModel::Metadata(const std::string& name) const {
  using Json = nlohmann::json;
  // Raw rows, or the typed tensors of model space (optional N.weights after their feature).
  Json inputs = Json::array();
  inputs.push_back({{"name", "rows"}, {"datatype", "BYTES"}, {"shape", {-1}}});
  const auto add = [&](const InputSpec& in, bool optional) {
    Json j{{"name", in.name}, {"datatype", InputDTypeName(in.dtype)}, {"shape", in.shape}};
    if (optional) j["optional"] = true;
    inputs.push_back(j);
  };
  for (const InputSpec& in : ModelInputSpecs(spec())) {
    add(in, false);
    const std::string suffix = ".lengths";
    if (in.name.size() > suffix.size() &&
        in.name.compare(in.name.size() - suffix.size(), suffix.size(), suffix) == 0) {
      add(OptionalWeightsSpec(in.name.substr(0, in.name.size() - suffix.size())), true);
    }
  }
  return Json{
      {"name", name},
      {"versions", {std::to_string(version_)}},
      {"platform", "crank"},
      {"inputs", inputs},
      {"outputs",
       Json::array({Json{{"name", "predictions"}, {"datatype", "FP32"}, {"shape", {-1}}}})}};
}

}  // namespace crank::serve
