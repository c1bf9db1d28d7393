#include "crank/train/evaluate.h"

#include <fmt/compile.h>
#include <fmt/format.h>

#include <cmath>

#include "crank/base/error.h"
#include "crank/io/atomic_file.h"

namespace crank {

using Json = nlohmann::json;

MetricMap Evaluate(Ranking& model, BatchReader& reader) {
  return Evaluate(model, reader, EvalBatchObserver());
}

MetricMap Evaluate(Ranking& model, BatchReader& reader, const EvalBatchObserver& observer) {
  model.ResetMetrics();
  Tensor predictions;
  return EvaluateBatches(
      reader,
      [&](const Batch& batch) {
        model.TestStep(batch);
        if (observer) {
          model.Predict(batch, &predictions);
          observer(batch, predictions);
        }
      },
      [&] {
        MetricMap m = model.Metrics();
        model.ResetMetrics();
        return m;
      });
}

MetricMap EvaluateBatches(BatchReader& reader, const std::function<void(const Batch&)>& test_step,
                          const std::function<MetricMap()>& take_metrics) {
  Batch batch;
  while (reader.Next(&batch)) {
    if (batch.labels.empty()) {
      throw DataError("evaluation needs labelled data, but the input has no label column");
    }
    test_step(batch);
  }
  MetricMap m = take_metrics();
  if (m["examples"] == 0) {
    throw DataError(fmt::format("no examples to evaluate ({} malformed rows skipped)",
                                reader.stats().rows_skipped));
  }
  reader.Rewind();
  return m;
}

int64_t PredictToFile(Ranking& model, BatchReader& reader, const std::string& out_path) {
  // The longest shortest-round-trip text of a float ("-1.17549435e-38") and its newline fit.
  constexpr size_t kMaxLine = 32;
  AtomicFileWriter out(out_path);
  Batch batch;
  Tensor predictions;
  std::string text;
  int64_t n = 0;
  while (reader.Next(&batch)) {
    model.Predict(batch, &predictions);
    text.resize(static_cast<size_t>(predictions.size()) * kMaxLine);
    char* end = text.data();
    for (int64_t i = 0; i < predictions.size(); ++i) {
      end = fmt::format_to(end, FMT_COMPILE("{}\n"), predictions[i]);
    }
    out.Append(text.data(), static_cast<size_t>(end - text.data()));
    n += predictions.size();
  }
  out.Commit();
  return n;
}

Json MetricsToJson(const MetricMap& m) {
  Json j = Json::object();
  for (const auto& [k, v] : m) {
    if (k == "examples") {
      j[k] = static_cast<int64_t>(v);
    } else if (std::isfinite(v)) {
      j[k] = v;
    } else {
      j[k] = nullptr;
    }
  }
  return j;
}

}  // namespace crank
