// `crank export`: a trained model as one ONNX graph (docs/export.md).

#include <string>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/export/onnx_export.h"
#include "crank/io/load_model.h"

namespace crank::cli {

Action AddExportCommand(CLI::App& app) {
  struct Flags {
    std::string model, format = "onnx", out;
    OnnxExportOptions options;
  };
  auto f = std::make_shared<Flags>();
  CLI::App* c = app.add_subcommand(
      "export", "write a trained model as an ONNX graph (inputs: the model-space tensors of map)");
  c->add_option("--model", f->model, "a model written by crank train")->required();
  c->add_option("--format", f->format, "output format: onnx (the only one)");
  c->add_option("--out", f->out, "the ONNX file to write")->required();
  c->add_option("--opset", f->options.opset,
                fmt::format("ONNX opset, {} to {} (default {})", OnnxExportOptions::kMinOpset,
                            OnnxExportOptions::kMaxOpset, f->options.opset));
  c->add_flag("--weighted-ids", f->options.weighted_ids,
              "declare the per-id weights input N.weights of every multi-hot feature");
  c->add_option("--inline-limit", f->options.inline_limit_bytes,
                "bytes of weights kept inside the file; larger tables go to OUT.data (ONNX "
                "external data) until the rest fits (default just under 2 GiB)");
  return [=] {
    if (f->format != "onnx") {
      throw ConfigError(fmt::format("--format: expected onnx, got '{}'", f->format));
    }
    f->options.Validate();
    LoadedModel m = LoadModel(f->model);
    const OnnxExportResult r = ExportOnnx(*m.model, m.mapping->spec(), f->out, f->options);
    LogInfo("wrote {} ({} bytes; ONNX IR version {}, opset {}; inputs {})", f->out, r.model_bytes,
            r.ir_version, r.opset, fmt::join(r.inputs, ", "));
    if (!r.external.empty()) {
      LogInfo("{} initializers ({} bytes) are in the external data file {}", r.external.size(),
              r.external_bytes, r.external_data_path);
    }
  };
}

}  // namespace crank::cli
