#ifndef CRANK_TRAIN_EVALUATE_H_
#define CRANK_TRAIN_EVALUATE_H_

// The evaluation and prediction loops (`crank eval`, `crank predict`, and the trainer's
// evaluations), and the metrics as JSON. Each loop runs on the calling thread over one
// reader; the model is used for inference only but its metric state is reset and read.

#include <cstdint>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>

#include "crank/data/batch_reader.h"
#include "crank/model/ranking.h"
#include "crank/train/hooks.h"

namespace crank {

// Runs the model over every batch of `reader` (labelled) and returns the task metrics
// ("examples", "auc", "logloss", "accuracy", "ne", "calibration", "loss", ...; "rmse", "mae"
// for regression). Rewinds the reader afterwards. DataError if the data has no labels.
MetricMap Evaluate(Ranking& model, BatchReader& reader);

// Called by Evaluate for each batch, after its metrics are recorded, with the batch and the
// model's predictions for it (B) as Ranking::Predict gives them (the metrics' sigmoid of the
// same logits may differ from them in the last bit).
using EvalBatchObserver = std::function<void(const Batch& batch, const Tensor& predictions)>;
// Evaluate, also handing every batch and its predictions to `observer` (`crank report`). Each
// batch then runs the inference forward twice (once for the metrics, once for the predictions).
MetricMap Evaluate(Ranking& model, BatchReader& reader, const EvalBatchObserver& observer);

// The evaluation loop under both: `test_step` records each labelled batch's metrics,
// `take_metrics` returns them (and resets them) after the last batch; the reader is rewound.
// DataError for unlabelled input or no examples. The hybrid-parallel Trainer passes its
// distributed step and merged metrics.
MetricMap EvaluateBatches(BatchReader& reader, const std::function<void(const Batch&)>& test_step,
                          const std::function<MetricMap()>& take_metrics);

// Writes one prediction per example, in input order, one per line (shortest text that reads
// back as the same float), to out_path atomically: on error nothing is left at out_path and an
// existing file there is untouched. Returns the number of predictions.
int64_t PredictToFile(Ranking& model, BatchReader& reader, const std::string& out_path);

// The metrics as a JSON object: "examples" as an integer, NaN and infinities as null.
nlohmann::json MetricsToJson(const MetricMap& metrics);

}  // namespace crank

#endif  // CRANK_TRAIN_EVALUATE_H_
