// `crank report`: one self-contained HTML page about a model evaluated on labelled data
// (docs/report.md): metrics, training curves from the model's history, ROC, precision-recall,
// calibration and prediction histogram, as inline SVG.

#include <fmt/format.h>

#include <memory>
#include <string>
#include <vector>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/batch_reader.h"
#include "crank/io/atomic_file.h"
#include "crank/io/load_model.h"
#include "crank/kernels/gemm.h"
#include "crank/report/report.h"
#include "crank/task/ranking_task.h"
#include "crank/train/evaluate.h"
#include "crank/train/job_config.h"
#include "crank/train/trainer.h"

namespace crank::cli {
namespace {

struct ReportFlags {
  std::string model, out, bad_rows, rows = "auto", precision;
  std::vector<std::string> data;
  int64_t batch_size = 4096;
  int threads = 0;
};

// --rows as `crank eval` reads it: auto is the hold-out rows when the data config has one.
RowSplit ReportRows(const std::string& s, bool holdout) {
  if (s == "auto") return holdout ? RowSplit::kEval : RowSplit::kAll;
  if (s == "all") return RowSplit::kAll;
  if (s == "train") return RowSplit::kTrain;
  if (s == "eval") return RowSplit::kEval;
  throw ConfigError(fmt::format("--rows: expected auto, all, train or eval, got '{}'", s));
}

std::string Joined(const std::vector<std::string>& files) {
  std::string s;
  for (const std::string& f : files) s += (s.empty() ? "" : ", ") + f;
  return s;
}

}  // namespace

Action AddReportCommand(CLI::App& app) {
  auto f = std::make_shared<ReportFlags>();
  CLI::App* c = app.add_subcommand(
      "report",
      "evaluate a model on labelled data and write one self-contained HTML page: metrics, "
      "training curves, ROC, precision-recall, calibration and prediction histogram");
  c->add_option("--model", f->model, "a model written by crank train")->required();
  c->add_option("--data", f->data, "labelled file(s), comma-separated, in the model's data format")
      ->required()
      ->delimiter(',');
  c->add_option("--out", f->out, "the HTML page to write")->required();
  c->add_option("--batch-size", f->batch_size, "examples per batch (default 4096)");
  c->add_option("--threads", f->threads, "compute threads (default: all cores)");
  c->add_option("--precision", f->precision,
                "GEMM precision: auto (default: as trained) | fp32 | bf16");
  c->add_option("--rows", f->rows,
                "which rows: auto (the held-out rows when the model's data config has a hold-out), "
                "all, train, eval");
  auto* bad =
      c->add_option("--bad-rows", f->bad_rows, "malformed rows: skip | fail (default: as trained)");
  return [=] {
    // Opened first: an output that cannot be written fails before any work, and the page
    // appears at --out complete or not at all.
    AtomicFileWriter out(f->out);
    LoadedModel m = LoadModel(f->model);
    ConfigureModelPrecision(f->precision, JobConfig::FromYamlString(
                                              m.config_yaml, f->model + " (stored configuration)"));
    ConfigureThreads(f->threads);
    const ErrorPolicy policy =
        bad->count() ? ParseBadRows(f->bad_rows) : m.mapping->config().on_error;
    auto mapping = std::make_shared<const DataMapping>(m.mapping->WithErrorPolicy(policy));
    ReaderOptions ro;
    ro.batch_size = f->batch_size;
    ro.split = ReportRows(f->rows, mapping->config().holdout.enabled());
    auto reader = MakeBatchReader(mapping, f->data, ro, /*in_memory=*/false);

    ReportInput in;
    in.model_path = f->model;
    in.data_path = Joined(f->data);
    in.regression = m.model->task().loss() == LossKind::kMeanSquaredError;
    in.metrics = Evaluate(*m.model, *reader, [&in](const Batch& batch, const Tensor& p) {
      in.predictions.insert(in.predictions.end(), p.data(), p.data() + p.size());
      const size_t before = in.labels.size();
      in.labels.insert(in.labels.end(), batch.labels.data(),
                       batch.labels.data() + batch.labels.size());
      if (!batch.weights.empty()) {
        in.weights.resize(before, 1.0f);  // earlier batches without weights: all ones
        in.weights.insert(in.weights.end(), batch.weights.data(),
                          batch.weights.data() + batch.weights.size());
      } else if (!in.weights.empty()) {
        in.weights.resize(in.labels.size(), 1.0f);
      }
    });
    in.history_json = m.state.history_json;
    in.steps = m.state.global_step;
    in.epochs = m.state.epoch;
    in.train_examples = m.state.examples;
    in.rows_skipped = reader->stats().rows_skipped;
    const std::string page = RenderReportHtml(in);
    out.Append(page.data(), page.size());
    out.Commit();
    LogInfo("wrote the report on {} examples ({} KiB) to {}", in.predictions.size(),
            page.size() / 1024, f->out);
  };
}

}  // namespace crank::cli
