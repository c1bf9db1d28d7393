#include "py_ranking.h"

#include <fmt/format.h>
#include <stdlib.h>

#include <filesystem>
#include <mutex>
#include <nlohmann/json.hpp>
#include <thread>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/config.h"
#include "crank/data/model_inputs.h"
#include "crank/dist/process_group.h"
#include "crank/io/model_checkpoint.h"
#include "crank/train/evaluate.h"
#include "crank/train/precision_choice.h"
#include "crank/train/progress.h"
#include "crank/train/tensorboard_hook.h"
#include "numpy_inputs.h"

namespace crank::python {
namespace {

using Json = nlohmann::json;

RowSplit ParseRows(const std::string& s, bool holdout, RowSplit default_split) {
  if (s == "auto") return holdout ? default_split : RowSplit::kAll;
  if (s == "all") return RowSplit::kAll;
  if (s == "train") return RowSplit::kTrain;
  if (s == "eval") return RowSplit::kEval;
  throw InvalidArgument(fmt::format("rows: expected auto, all, train or eval, got '{}'", s));
}

py::dict MetricsDict(const MetricMap& m) {
  py::dict d;
  for (const auto& [k, v] : m) {
    if (k == "examples") {
      d[py::str(k)] = static_cast<int64_t>(v);
    } else {
      d[py::str(k)] = v;
    }
  }
  return d;
}

py::object JsonToPython(const Json& j) {
  return py::module_::import("json").attr("loads")(j.dump());
}

// After each step: Ctrl-C (PyErr_CheckSignals, with the GIL taken back briefly) and the Python
// callbacks. A pending signal or a callback that raises stops the run (kStop); the exception is
// kept for fit to raise once the Trainer has returned.
class FitHook : public TrainHook {
 public:
  explicit FitHook(const py::list& callbacks) {
    for (const py::handle& c : callbacks)
      callbacks_.push_back(py::reinterpret_borrow<py::object>(c));
  }

  HookAction OnStepEnd(const StepEndInfo& s) override {
    if (static_cast<size_t>(s.epoch) >= loss_sums_.size()) {
      loss_sums_.resize(static_cast<size_t>(s.epoch) + 1, 0.0);
      loss_counts_.resize(static_cast<size_t>(s.epoch) + 1, 0);
    }
    loss_sums_[static_cast<size_t>(s.epoch)] += s.loss * static_cast<double>(s.batch_size);
    loss_counts_[static_cast<size_t>(s.epoch)] += s.batch_size;
    py::gil_scoped_acquire gil;
    if (PyErr_CheckSignals() != 0) {
      error_.emplace();  // fetches the KeyboardInterrupt (or what the handler raised)
      return HookAction::kStop;
    }
    if (callbacks_.empty()) return HookAction::kContinue;
    try {
      py::dict logs;
      logs["loss"] = s.loss;
      logs["total_loss"] = s.total_loss;
      logs["epoch"] = s.epoch;
      logs["batch_size"] = s.batch_size;
      for (const py::object& c : callbacks_) {
        if (c(s.step, logs).equal(py::str("stop"))) return HookAction::kStop;
      }
    } catch (py::error_already_set& e) {
      error_.emplace(std::move(e));
      return HookAction::kStop;
    }
    return HookAction::kContinue;
  }

  // Raises the kept exception, if any (GIL held).
  void RaiseIfStopped() {
    if (error_) {
      py::error_already_set e = std::move(*error_);
      error_.reset();
      throw e;
    }
  }
  bool stopped_by_python() const { return error_.has_value(); }

  // Mean training loss of each epoch this run trained in (keyed by 0-based epoch).
  py::dict EpochLosses() const {
    py::dict d;
    for (size_t e = 0; e < loss_sums_.size(); ++e) {
      if (loss_counts_[e] > 0)
        d[py::int_(e)] = loss_sums_[e] / static_cast<double>(loss_counts_[e]);
    }
    return d;
  }

 private:
  std::vector<py::object> callbacks_;
  std::optional<py::error_already_set> error_;
  std::vector<double> loss_sums_;
  std::vector<int64_t> loss_counts_;
};

}  // namespace

// A reader that, before each batch, takes the GIL back briefly to check for Ctrl-C: evaluate,
// predict and batches over files stop after the current batch. A pending signal's exception
// is fetched and the loop is left with Interrupted, which the caller turns back into the
// Python exception (RaiseIfInterrupted).
class InterruptibleReader : public BatchReader {
 public:
  struct Interrupted {};

  explicit InterruptibleReader(std::unique_ptr<BatchReader> reader) : reader_(std::move(reader)) {}

  bool Next(Batch* batch) override {
    {
      py::gil_scoped_acquire gil;
      if (PyErr_CheckSignals() != 0) {
        error_.emplace();
        throw Interrupted{};
      }
    }
    return reader_->Next(batch);
  }
  void Rewind() override { reader_->Rewind(); }
  ReaderPosition position() const override { return reader_->position(); }
  bool CanSeek() const override { return reader_->CanSeek(); }
  bool Seek(const ReaderPosition& position) override { return reader_->Seek(position); }
  ReaderStats stats() const override { return reader_->stats(); }
  const DataSpec& spec() const override { return reader_->spec(); }

  // Raises the fetched exception (GIL held).
  void RaiseIfInterrupted() {
    if (error_) {
      py::error_already_set e = std::move(*error_);
      error_.reset();
      throw e;
    }
  }

 private:
  std::unique_ptr<BatchReader> reader_;
  std::optional<py::error_already_set> error_;
};

PyRanking::PyRanking(JobConfig config) : config_(std::move(config)) { config_.Validate(); }

PyRanking::~PyRanking() {
  if (!workdir_.empty()) {
    std::error_code ec;
    std::filesystem::remove_all(workdir_, ec);
  }
}

std::unique_ptr<PyRanking> PyRanking::Load(const std::string& path) {
  LoadedModel loaded;
  JobConfig config;
  {
    py::gil_scoped_release nogil;
    loaded = LoadModel(path);
    config = JobConfig::FromYamlString(loaded.config_yaml, path + " (stored configuration)");
  }
  auto r = std::make_unique<PyRanking>(std::move(config));
  auto holder = std::make_shared<ModelHolder>();
  holder->loaded = std::move(loaded);
  holder->model = holder->loaded.model.get();
  r->mapping_ = holder->loaded.mapping;
  r->state_ = holder->loaded.state;
  r->holder_ = std::move(holder);
  r->holder_->model->SetComputeSettings(r->Settings());
  r->loaded_from_ = path;
  return r;
}

ComputeSettings PyRanking::Settings(std::optional<int64_t> batch_size) const {
  ComputeSettings s;
  int threads = threads_.value_or(config_.train.threads);
  if (threads <= 0) threads = static_cast<int>(std::thread::hardware_concurrency());
  s.threads = threads > 0 ? threads : 1;
  // set_compute's precision, else the configuration's; auto resolves as `crank train` does.
  const PrecisionSetting setting = precision_ ? *precision_ : config_.train.precision;
  s.precision = ChoosePrecision(setting, batch_size.value_or(config_.train.batch_size),
                                Bf16Supported())
                    .precision;
  return s;
}

void PyRanking::Compile(const std::optional<OptimizerConfig>& embedding,
                        const std::optional<OptimizerConfig>& dense) {
  py::gil_scoped_release nogil;
  std::unique_lock lock(mutex_);
  JobConfig c = config_;
  if (embedding) c.embedding_optimizer = *embedding;
  if (dense) c.dense_optimizer = *dense;
  c.embedding_optimizer.Validate("optimizer.embedding");
  c.dense_optimizer.Validate("optimizer.dense");
  config_ = c;
  loaded_from_.clear();  // the stored optimizer state belongs to the stored optimizers
  if (holder_ && holder_->model->optimizer() != nullptr) {
    holder_->model->SetOptimizer(MakeJobOptimizer(*holder_->model, config_));
  }
}

void PyRanking::SetCompute(std::optional<int> threads, std::optional<std::string> precision) {
  if (threads && *threads < 0) {
    throw InvalidArgument(fmt::format("threads: expected 0 (all cores) or more, got {}", *threads));
  }
  std::optional<PrecisionSetting> p;
  if (precision) p = ParsePrecisionSetting(*precision);
  py::gil_scoped_release nogil;
  std::unique_lock lock(mutex_);
  if (threads) threads_ = *threads;
  if (p) precision_ = *p;
  if (holder_) holder_->model->SetComputeSettings(Settings());
}

const std::string& PyRanking::WorkDir() {
  if (workdir_.empty()) {
    std::string tmpl = (std::filesystem::temp_directory_path() / "crank-fit-XXXXXX").string();
    if (mkdtemp(tmpl.data()) == nullptr) {
      throw IoError(fmt::format("cannot create a directory like {}: {}", tmpl, strerror(errno)));
    }
    workdir_ = tmpl;
  }
  return workdir_;
}

std::shared_ptr<const DataMapping> PyRanking::BuiltMapping() {
  py::gil_scoped_release nogil;
  std::unique_lock lock(mutex_);
  EnsureBuilt();
  return mapping_;
}

void PyRanking::EnsureBuilt() {
  if (holder_) return;
  auto mapping = std::make_shared<const DataMapping>(
      DataMapping::Build(config_.data, config_.data.train_files));
  auto holder = std::make_shared<ModelHolder>();
  holder->built = std::make_unique<Ranking>(config_.MakeRankingConfig(mapping->spec()));
  holder->model = holder->built.get();
  holder->model->SetComputeSettings(Settings());
  mapping_ = std::move(mapping);
  state_ = TrainingState{};
  state_.seed = config_.train.seed;
  holder_ = std::move(holder);
}

void PyRanking::EnsureOptimizer() {
  Ranking& model = *holder_->model;
  if (model.optimizer() != nullptr) return;
  std::unique_ptr<Optimizer> optimizer = MakeJobOptimizer(model, config_);
  if (!loaded_from_.empty()) {
    ModelCheckpoint::Load(loaded_from_).RestoreOptimizer(model, *optimizer);
  }
  model.SetOptimizer(std::move(optimizer));
}

py::dict PyRanking::Fit(std::optional<std::vector<std::string>> train_files,
                        std::optional<std::vector<std::string>> eval_files,
                        std::optional<int64_t> epochs, std::optional<int64_t> max_steps,
                        const py::list& callbacks, const std::string& checkpoint, bool verbose) {
  if (LaunchedByMpiRun()) {
    // Each rank would train its own copy of the model on all the data, silently.
    throw ConfigError(
        "fit trains in one process, and this one was started by mpirun (one of several "
        "ranks): train on several ranks with `mpirun -np N crank train ... --model-out "
        "m.crank` (docs/distributed.md), then crank.Ranking.load(\"m.crank\") here in one "
        "process");
  }
  FitHook hook(callbacks);
  TrainResult result;
  std::exception_ptr error;
  std::string model_out;
  {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    try {
      JobConfig cfg = config_;
      if (train_files) cfg.data.train_files = *train_files;
      if (eval_files) cfg.data.eval_files = *eval_files;
      if (cfg.data.train_files.empty()) {
        throw ConfigError("fit: no training data: give x or data.train in the configuration");
      }
      TrainRun run;
      run.train_files = cfg.data.train_files;
      run.eval_files = cfg.data.eval_files;
      run.model_out = checkpoint.empty() ? WorkDir() + "/model.crank" : checkpoint;
      model_out = run.model_out;
      const int64_t more_epochs = epochs.value_or(config_.train.epochs);
      // A model with training behind it continues: its weights, optimizer state and position
      // are written as the run's checkpoint and the Trainer resumes from there.
      const bool continuing = holder_ && state_.global_step > 0;
      // A new model's default Criteo encoding follows from the data, as in `crank train`
      // (docs/defaults.md, "The encoding rule"); a model with training behind it keeps its own.
      if (!continuing) {
        const std::string line = ResolveDefaultEncoding(&cfg.data, cfg.data.train_files, false);
        if (!line.empty() && verbose) LogInfo("{}", line);
        const std::string batch = ResolveDefaultBatchSize(&cfg.train, cfg.data.train_files);
        if (!batch.empty() && verbose) LogInfo("{}", batch);
      }
      const int64_t base_epoch = continuing ? state_.epoch : 0;
      cfg.train.epochs = base_epoch + more_epochs;
      if (max_steps) cfg.train.max_steps = (continuing ? state_.global_step : 0) + *max_steps;
      cfg.Validate();
      if (continuing) {
        EnsureOptimizer();
        TrainingState s = state_;
        s.finished = false;
        s.seed = cfg.train.seed;
        SaveModelCheckpoint(run.model_out + ".ckpt", *holder_->model, holder_->model->optimizer(),
                            cfg.ToYaml(), mapping_->Serialize(), s);
        run.resume = true;
      }
      std::unique_ptr<TensorBoardHook> tensorboard;  // train.tensorboard: docs/tensorboard.md
      if (!cfg.train.tensorboard.empty())
        tensorboard = std::make_unique<TensorBoardHook>(TensorBoardOptionsFor(cfg));
      auto holder = std::make_shared<ModelHolder>();
      holder->trainer = std::make_unique<Trainer>(cfg, run);
      holder->model = &holder->trainer->model();
      holder->model->SetComputeSettings(Settings(cfg.train.batch_size));
      holder->trainer->AddHook(&hook);
      if (tensorboard) holder->trainer->AddHook(tensorboard.get());
      std::unique_ptr<ProgressHook> progress;
      if (verbose) {
        progress = std::make_unique<ProgressHook>(false, cfg.train.log_every_seconds);
        holder->trainer->AddHook(progress.get());
      }
      result = holder->trainer->Fit();
      config_.data.criteo = cfg.data.criteo;  // the encoding it trained with, for the next fit
      config_.train.batch_size = cfg.train.batch_size;  // and the batch size
      config_.train.batch_size_given = true;
      mapping_ = std::shared_ptr<const DataMapping>(holder, &holder->trainer->mapping());
      state_ = result.state;
      holder_ = std::move(holder);
      loaded_from_.clear();
    } catch (...) {
      error = std::current_exception();
    }
  }
  hook.RaiseIfStopped();
  if (error) std::rethrow_exception(error);
  py::dict d;
  d["epoch_losses"] = hook.EpochLosses();
  d["evaluations"] = JsonToPython(Json::parse(result.history_json));
  d["final_eval"] = MetricsDict(result.final_eval);
  d["steps"] = result.state.global_step;
  d["epochs_completed"] = result.state.epoch;
  d["train_examples"] = result.train_examples;
  d["train_seconds"] = result.train_seconds;
  d["train_examples_per_sec"] = result.train_examples_per_sec;
  d["rows_skipped"] = result.rows_skipped;
  d["stopped_early"] = result.stopped_early;
  d["stopped_by_callback"] = result.stopped_by_hook;
  d["model_path"] = model_out;
  d["checkpoint_path"] = result.checkpoint_path;
  return d;
}

std::unique_ptr<InterruptibleReader> PyRanking::OpenReader(const std::vector<std::string>& files,
                                                           const std::string& rows,
                                                           RowSplit default_split,
                                                           ErrorPolicy policy,
                                                           int64_t batch_size) const {
  if (files.empty()) throw InvalidArgument("no input files given");
  auto mapping = std::make_shared<const DataMapping>(mapping_->WithErrorPolicy(policy));
  ReaderOptions ro;
  ro.batch_size = batch_size;
  ro.split = ParseRows(rows, mapping->config().holdout.enabled(), default_split);
  ro.Validate();
  return std::make_unique<InterruptibleReader>(
      MakeBatchReader(mapping, files, ro, /*in_memory=*/false));
}

py::dict PyRanking::Evaluate(const std::vector<std::string>& files, const std::string& rows,
                             int64_t batch_size) {
  MetricMap metrics;
  std::unique_ptr<InterruptibleReader> reader;
  try {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    EnsureBuilt();
    reader = OpenReader(files, rows, RowSplit::kEval, mapping_->config().on_error, batch_size);
    metrics = crank::Evaluate(*holder_->model, *reader);
  } catch (const InterruptibleReader::Interrupted&) {
    holder_->model->ResetMetrics();  // what the interrupted pass had gathered
    reader->RaiseIfInterrupted();
  }
  return MetricsDict(metrics);
}

py::array_t<float> PyRanking::PredictFiles(const std::vector<std::string>& files,
                                           int64_t batch_size) {
  auto out = std::make_unique<std::vector<float>>();
  std::unique_ptr<InterruptibleReader> reader;
  try {
    py::gil_scoped_release nogil;
    {
      std::unique_lock lock(mutex_);
      EnsureBuilt();
    }
    std::shared_lock lock(mutex_);
    reader = OpenReader(files, "all", RowSplit::kAll, ErrorPolicy::kFail, batch_size);
    InferenceWorkspace workspace;
    Batch batch;
    Tensor predictions;
    while (reader->Next(&batch)) {
      holder_->model->Predict(batch, &workspace, &predictions);
      out->insert(out->end(), predictions.data(), predictions.data() + predictions.size());
    }
  } catch (const InterruptibleReader::Interrupted&) {
    reader->RaiseIfInterrupted();
  }
  std::vector<float>* v = out.release();
  py::capsule owner(v, [](void* p) { delete static_cast<std::vector<float>*>(p); });
  return py::array_t<float>({static_cast<py::ssize_t>(v->size())}, {sizeof(float)}, v->data(),
                            owner);
}

py::array_t<float> PyRanking::PredictInputs(const py::dict& inputs) {
  const std::shared_ptr<const DataMapping> mapping = BuiltMapping();
  Batch batch;
  DictToBatch(inputs, py::none(), py::none(), mapping->spec(), Labels::kIgnored, &batch);
  Tensor predictions;
  {
    py::gil_scoped_release nogil;
    std::shared_lock lock(mutex_);
    if (mapping != mapping_) {
      throw InvalidArgument("predict: the model changed while its inputs were read; call again");
    }
    thread_local InferenceWorkspace workspace;
    holder_->model->Predict(batch, &workspace, &predictions);
  }
  return TensorToNumpy(std::move(predictions));
}

py::dict PyRanking::TrainStep(const py::dict& inputs, const py::object& labels,
                              const py::object& sample_weight) {
  const std::shared_ptr<const DataMapping> mapping = BuiltMapping();
  Batch batch;
  DictToBatch(inputs, labels, sample_weight, mapping->spec(), Labels::kRequired, &batch);
  StepResult r;
  {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    if (mapping != mapping_) {
      throw InvalidArgument("train_step: the model changed while its inputs were read; call again");
    }
    EnsureOptimizer();
    Ranking& model = *holder_->model;
    // As the Trainer's first step: the output bias starts at the label mean.
    if (state_.global_step == 0 && config_.model.output_bias_init == OutputBiasInit::kLabelMean) {
      double sum = 0.0;
      for (int64_t i = 0; i < batch.labels.size(); ++i) sum += batch.labels[i];
      model.InitializeOutputBias(sum / static_cast<double>(batch.labels.size()));
    }
    r = model.TrainStep(batch);
    ++state_.global_step;
    ++state_.batch_in_epoch;
    state_.examples += batch.size();
    state_.input.reset();  // the steps did not come from a reader
  }
  py::dict d;
  d["loss"] = r.loss;
  d["regularization_loss"] = r.regularization_loss;
  d["total_loss"] = r.total_loss;
  return d;
}

py::list PyRanking::Batches(const std::vector<std::string>& files, const std::string& rows,
                            int64_t batch_size) {
  std::vector<Batch> batches;
  std::shared_ptr<const DataMapping> mapping;
  {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    EnsureBuilt();
    mapping = mapping_;
    auto reader =
        OpenReader(files, rows, RowSplit::kTrain, mapping_->config().on_error, batch_size);
    Batch b;
    while (reader->Next(&b)) batches.push_back(b);
  }
  py::list out;
  for (const Batch& b : batches) out.append(BatchToDict(b, mapping->spec()));
  return out;
}

void PyRanking::Save(const std::string& path) {
  py::gil_scoped_release nogil;
  std::unique_lock lock(mutex_);
  EnsureBuilt();
  SaveModelCheckpoint(path, *holder_->model, holder_->model->optimizer(), config_.ToYaml(),
                      mapping_->Serialize(), state_);
}

py::array_t<float> PyRanking::EmbeddingTable(const std::string& name) {
  std::shared_ptr<ModelHolder> holder;
  {
    py::gil_scoped_release nogil;
    std::unique_lock lock(mutex_);
    EnsureBuilt();
    holder = holder_;
  }
  Variable* table = nullptr;
  std::vector<std::string> names;
  for (Variable* v : holder->model->EmbeddingTrainableVariables()) {
    const std::string table_name = v->name.substr(v->name.find('/') + 1);
    names.push_back(table_name);
    if (table_name == name) table = v;
  }
  if (table == nullptr) {
    throw py::key_error(fmt::format("embedding_table: no table '{}' (the model's tables: {})", name,
                                    fmt::join(names, ", ")));
  }
  if (table->is16()) {
    // A 16-bit table: a read-only copy of its widened values.
    const int64_t rows = table->shape()[0], cols = table->shape()[1];
    py::array_t<float> copy({rows, cols});
    float* dst = copy.mutable_data();
    for (int64_t r = 0; r < rows; ++r) table->ReadRow(r, dst + r * cols);
    py::detail::array_proxy(copy.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
    return copy;
  }
  // The holder (model and its tables) lives as long as the view.
  auto* keep = new std::shared_ptr<ModelHolder>(holder);
  py::capsule owner(keep, [](void* p) { delete static_cast<std::shared_ptr<ModelHolder>*>(p); });
  const Tensor& t = table->value;
  py::array_t<float> view(
      {t.dim(0), t.dim(1)},
      {static_cast<py::ssize_t>(t.dim(1) * sizeof(float)), static_cast<py::ssize_t>(sizeof(float))},
      t.data(), owner);
  py::detail::array_proxy(view.ptr())->flags &= ~py::detail::npy_api::NPY_ARRAY_WRITEABLE_;
  return view;
}

py::list PyRanking::InputSpecs() {
  const std::shared_ptr<const DataMapping> mapping = BuiltMapping();
  py::list out;
  for (const InputSpec& in : ModelInputSpecs(mapping->spec())) {
    py::tuple shape(in.shape.size());
    for (size_t i = 0; i < in.shape.size(); ++i) shape[i] = in.shape[i];
    out.append(py::make_tuple(in.name, InputDTypeName(in.dtype), shape));
  }
  return out;
}

py::dict PyRanking::State() const {
  py::dict d;
  d["global_step"] = state_.global_step;
  d["epoch"] = state_.epoch;
  d["examples"] = state_.examples;
  d["finished"] = state_.finished;
  return d;
}

py::dict PyRanking::Summary() {
  py::dict d;
  d["built"] = holder_ != nullptr;
  if (!holder_) return d;
  int64_t params = 0;
  for (Variable* v : holder_->model->TrainableVariables()) params += v->size();
  d["parameters"] = params;
  d["dense_features"] = mapping_->spec().num_dense();
  d["sparse_features"] = mapping_->spec().num_sparse();
  const ComputeSettings s = holder_->model->compute_settings();
  d["threads"] = s.threads;
  d["precision"] = std::string(GemmPrecisionName(s.precision.value_or(GetGemmPrecision())));
  return d;
}

}  // namespace crank::python
