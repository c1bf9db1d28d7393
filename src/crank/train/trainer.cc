#include "crank/train/trainer.h"

#include <fcntl.h>
#include <fmt/ranges.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/io/atomic_file.h"
#include "crank/kernels/gemm.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/factory.h"
#include "crank/train/progress.h"

namespace crank {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

int64_t TotalBytes(const std::vector<std::string>& files) {
  int64_t total = 0;
  for (const auto& f : files) {
    std::error_code ec;
    const auto n = std::filesystem::file_size(f, ec);
    if (!ec) total += static_cast<int64_t>(n);
  }
  return total;
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

// The part of a job that determines the model's variables and the optimizer's state.
std::string ModelSignature(const JobConfig& c) {
  JobConfig s;
  s.model = c.model;
  s.embedding_optimizer = c.embedding_optimizer;
  s.dense_optimizer = c.dense_optimizer;
  s.data = c.data;
  s.data.train_files.clear();
  s.data.eval_files.clear();
  return s.ToYaml();
}

bool HigherIsBetter(const Ranking& model) {
  return const_cast<Ranking&>(model).task().loss() == LossKind::kBinaryCrossEntropy;
}

// The metric early stopping watches: AUC for classification, RMSE for regression.
double WatchedMetric(const MetricMap& m, bool higher_is_better) {
  const char* key = higher_is_better ? "auc" : "rmse";
  auto it = m.find(key);
  return it == m.end() ? NAN : it->second;
}

// Makes `to` a hard link of `from`, atomically replacing `to`. False if the file system cannot.
bool PublishLink(const std::string& from, const std::string& to) {
  const std::string tmp = fmt::format("{}.tmp-link-{}", to, getpid());
  std::remove(tmp.c_str());
  if (link(from.c_str(), tmp.c_str()) != 0) return false;
  if (std::rename(tmp.c_str(), to.c_str()) != 0) {
    std::remove(tmp.c_str());
    return false;
  }
  const std::string dir = std::filesystem::path(to).parent_path().string();
  const int fd = open(dir.empty() ? "." : dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd >= 0) {
    fsync(fd);
    close(fd);
  }
  return true;
}

}  // namespace

int ConfigureThreads(int threads) {
  int n = threads > 0 ? threads : static_cast<int>(std::thread::hardware_concurrency());
  if (n <= 0) n = 1;
  SetComputeThreads(n);
  return n;
}

void ConfigurePrecision(const std::string& precision) {
  if (precision != "fp32" && precision != "bf16") {
    throw ConfigError(fmt::format("precision: expected fp32 or bf16, got '{}'", precision));
  }
  SetGemmPrecision(ParseGemmPrecision(precision));
}

std::unique_ptr<Optimizer> MakeJobOptimizer(Ranking& model, const JobConfig& config) {
  std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
  parts.emplace_back(MakeOptimizer(config.embedding_optimizer),
                     model.EmbeddingTrainableVariables());
  parts.emplace_back(MakeOptimizer(config.dense_optimizer), model.DenseTrainableVariables());
  return std::make_unique<CompositeOptimizer>(std::move(parts));
}

MetricMap Evaluate(Ranking& model, BatchReader& reader) {
  model.ResetMetrics();
  Batch batch;
  while (reader.Next(&batch)) {
    if (batch.labels.empty()) {
      throw DataError("evaluation needs labelled data, but the input has no label column");
    }
    model.TestStep(batch);
  }
  MetricMap m = model.Metrics();
  model.ResetMetrics();
  if (m["examples"] == 0) {
    throw DataError(fmt::format("no examples to evaluate ({} malformed rows skipped)",
                                reader.stats().rows_skipped));
  }
  reader.Rewind();
  return m;
}

int64_t PredictToFile(Ranking& model, BatchReader& reader, const std::string& out_path) {
  AtomicFileWriter out(out_path);
  Batch batch;
  Tensor predictions;
  std::string text;
  int64_t n = 0;
  while (reader.Next(&batch)) {
    model.Predict(batch, &predictions);
    text.clear();
    for (int64_t i = 0; i < predictions.size(); ++i) {
      fmt::format_to(std::back_inserter(text), "{}\n", predictions[i]);
    }
    out.Append(text.data(), text.size());
    n += predictions.size();
  }
  out.Commit();
  return n;
}

std::string MetricsJson(const MetricMap& metrics, const std::string& extra_members, int indent) {
  Json j = MetricsToJson(metrics);
  if (!extra_members.empty()) {
    Json extra = Json::parse("{" + extra_members + "}");
    for (auto& [k, v] : extra.items()) j[k] = v;
  }
  return j.dump(indent);
}

TrainResult Train(const JobConfig& config, const TrainRun& run) {
  if (run.train_files.empty()) throw ConfigError("train: no training files given (--train PATH)");
  if (run.model_out.empty()) throw ConfigError("train: no output path given (--model-out PATH)");
  TrainResult result;
  result.checkpoint_path = run.model_out + ".ckpt";
  const TrainOptions& to = config.train;

  // Data mapping and model: fresh, or restored from the checkpoint.
  std::optional<ModelCheckpoint> ckpt;
  std::shared_ptr<const DataMapping> mapping;
  if (run.resume) {
    if (!std::filesystem::exists(result.checkpoint_path)) {
      throw IoError(
          fmt::format("--resume: there is no checkpoint at {} (train without --resume to start)",
                      result.checkpoint_path));
    }
    ckpt = ModelCheckpoint::Load(result.checkpoint_path);
    const JobConfig saved = JobConfig::FromYamlString(
        ckpt->config_yaml(), result.checkpoint_path + " (stored configuration)");
    if (ModelSignature(saved) != ModelSignature(config)) {
      throw ConfigError(
          fmt::format("--resume: {} was written with a different model, optimizer or data "
                      "configuration; resume "
                      "with the same configuration (stored in the checkpoint) or start a new run",
                      result.checkpoint_path));
    }
    mapping = std::make_shared<const DataMapping>(DataMapping::Deserialize(ckpt->mapping()));
  } else {
    if (DataMapping::NeedsPass(config.data))
      LogInfo("building vocabularies and statistics from the training data");
    mapping = std::make_shared<const DataMapping>(DataMapping::Build(config.data, run.train_files));
  }
  const DataSpec& spec = mapping->spec();
  // Readers first: a missing or unreadable file fails before the model is initialised.
  const bool holdout = config.data.holdout.enabled();
  ReaderOptions ro;
  ro.batch_size = to.batch_size;
  ro.split = holdout ? RowSplit::kTrain : RowSplit::kAll;
  ro.shuffle_buffer = to.shuffle_buffer;
  ro.seed = to.seed;
  std::unique_ptr<BatchReader> reader = MakeBatchReader(mapping, run.train_files, ro, to.in_memory);
  std::unique_ptr<BatchReader> eval_reader;
  if (!run.eval_files.empty()) {
    ReaderOptions eo;
    eo.batch_size = to.eval_batch_size;
    eo.split = holdout ? RowSplit::kEval : RowSplit::kAll;
    eval_reader = MakeBatchReader(mapping, run.eval_files, eo, to.in_memory);
  }

  Ranking model(config.MakeRankingConfig(spec));
  std::unique_ptr<Optimizer> optimizer = MakeJobOptimizer(model, config);
  TrainingState state;
  state.seed = to.seed;
  if (ckpt) {
    ckpt->RestoreVariables(model);
    ckpt->RestoreOptimizer(model, *optimizer);
    state = ckpt->state();
    LogInfo("resuming from {}: epoch {}, step {}", result.checkpoint_path, state.epoch + 1,
            state.global_step);
  }
  model.SetOptimizer(std::move(optimizer));
  const std::string config_yaml = config.ToYaml();
  const std::string mapping_text = mapping->Serialize();

  Json history = Json::parse(state.history_json.empty() ? "[]" : state.history_json);
  const bool higher_better = HigherIsBetter(model);
  double best = NAN;
  int64_t since_best = 0;
  for (const Json& h : history) {  // early-stopping state of a resumed run
    MetricMap m;
    for (auto& [k, v] : h["metrics"].items()) m[k] = v.is_number() ? v.get<double>() : NAN;
    const double w = WatchedMetric(m, higher_better);
    if (std::isnan(best) || (higher_better ? w > best : w < best)) {
      best = w;
      since_best = 0;
    } else {
      ++since_best;
    }
  }
  auto save = [&](const std::string& path) {
    state.history_json = history.dump();
    SaveModelCheckpoint(path, model, model.optimizer(), config_yaml, mapping_text, state);
  };
  bool stop = false;
  // epoch: 1-based epoch the evaluation belongs to (the one just completed, or in progress).
  auto evaluate = [&](const char* when, int64_t epoch) {
    if (!eval_reader) return;
    MetricMap m = Evaluate(model, *eval_reader);
    result.final_eval = m;
    Json entry = {{"epoch", epoch}, {"step", state.global_step}, {"metrics", MetricsToJson(m)}};
    history.push_back(entry);
    LogInfo("eval {} (epoch {}, step {}): {}", when, epoch, state.global_step,
            MetricsToJson(m).dump());
    const double w = WatchedMetric(m, higher_better);
    if (std::isnan(best) || (higher_better ? w > best : w < best)) {
      best = w;
      since_best = 0;
    } else if (++since_best >= to.early_stopping_patience && to.early_stopping_patience > 0) {
      LogInfo("early stopping: {} has not improved for {} evaluations (best {:.5f})",
              higher_better ? "auc" : "rmse", since_best, best);
      stop = true;
      result.stopped_early = true;
    }
  };

  if (state.finished) {
    LogInfo("{} holds a finished run; nothing to resume", result.checkpoint_path);
  }
  Progress progress(run.progress_bar, to.log_every_seconds);
  const int64_t total_bytes = TotalBytes(run.train_files);
  for (int64_t e = 0; e < state.epoch; ++e) reader->Rewind();  // the shuffle order of epoch e
  Batch batch;
  double step_seconds = 0.0;
  while (!state.finished && !stop && state.epoch < to.epochs) {
    progress.StartEpoch(state.epoch, to.epochs, total_bytes);
    for (int64_t skip = 0; skip < state.batch_in_epoch; ++skip) {
      if (!reader->Next(&batch)) break;
    }
    auto t0 = Clock::now();
    if (to.max_steps > 0 && state.global_step >= to.max_steps) stop = true;
    while (!stop && reader->Next(&batch)) {
      if (batch.labels.empty())
        throw DataError("training needs labelled data, but the input has no label column");
      if (state.global_step == 0 && config.model.output_bias_init == OutputBiasInit::kLabelMean) {
        double sum = 0.0;
        for (int64_t i = 0; i < batch.labels.size(); ++i) sum += batch.labels[i];
        model.InitializeOutputBias(sum / static_cast<double>(batch.labels.size()));
      }
      const StepResult r = model.TrainStep(batch);
      if (!std::isfinite(r.total_loss)) {
        progress.Finish();
        throw NumericError(fmt::format(
            "training diverged: the loss is {} at step {} (epoch {}); the weights of step {} are "
            "kept in {} -- lower the learning rate",
            r.total_loss, state.global_step + 1, state.epoch + 1, state.global_step,
            std::filesystem::exists(result.checkpoint_path) ? result.checkpoint_path
                                                            : "no checkpoint yet"));
      }
      ++state.global_step;
      ++state.batch_in_epoch;
      state.examples += batch.size();
      result.train_examples += batch.size();
      progress.Step(state.global_step, batch.size(), r.loss, reader->stats().bytes_read);
      const bool at_max = to.max_steps > 0 && state.global_step >= to.max_steps;
      if ((to.checkpoint_every > 0 && state.global_step % to.checkpoint_every == 0) ||
          (to.eval_every > 0 && state.global_step % to.eval_every == 0) || at_max) {
        step_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
        if (to.eval_every > 0 && state.global_step % to.eval_every == 0) {
          progress.Finish();
          evaluate("every eval_every steps", state.epoch + 1);
        }
        if (at_max) {
          stop = true;
          break;
        }
        if (stop) break;
        if (to.checkpoint_every > 0 && state.global_step % to.checkpoint_every == 0)
          save(result.checkpoint_path);
        t0 = Clock::now();
      }
    }
    if (!stop) step_seconds += std::chrono::duration<double>(Clock::now() - t0).count();
    result.rows_skipped += reader->stats().rows_skipped;
    if (state.global_step == 0) {
      progress.Finish();
      throw DataError(fmt::format("no training examples in {} ({} malformed rows skipped{})",
                                  fmt::join(run.train_files, ", "), result.rows_skipped,
                                  holdout ? ", hold-out rows excluded" : ""));
    }
    progress.Finish();
    if (!stop) {
      ++state.epoch;
      state.batch_in_epoch = 0;
      reader->Rewind();
      evaluate("after epoch", state.epoch);
    }
    // Early stopping and the last epoch finish the run; --max-steps only pauses it (a later
    // --resume with a higher limit continues).
    if (result.stopped_early || state.epoch >= to.epochs) state.finished = true;
    save(result.checkpoint_path);
  }
  if (result.rows_skipped > 0)
    LogWarning("{} malformed training rows were skipped", result.rows_skipped);
  // The checkpoint now holds the final state: publish it as the model without writing it again.
  if (!PublishLink(result.checkpoint_path, run.model_out)) save(run.model_out);
  result.state = state;
  result.history_json = history.dump();
  result.train_seconds = step_seconds;
  result.train_examples_per_sec = step_seconds > 0 ? result.train_examples / step_seconds : 0.0;
  return result;
}

}  // namespace crank
