#include "crank/train/trainer.h"

#include <fmt/ranges.h>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/base/system_memory.h"
#include "crank/dist/config_check.h"
#include "crank/dist/sharded_checkpoint.h"
#include "crank/io/atomic_file.h"
#include "crank/kernels/gemm.h"
#include "crank/optim/composite_optimizer.h"
#include "crank/optim/factory.h"
#include "crank/train/precision_choice.h"
#include "crank/train/progress.h"
#include "crank/train/tensorboard_hook.h"

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

// The part of a job that determines the model's variables and the optimizer's state.
std::string ModelSignature(const JobConfig& c) {
  JobConfig s;
  s.model = c.model;
  s.embedding_optimizer = c.embedding_optimizer;
  s.dense_optimizer = c.dense_optimizer;
  s.data = c.data;
  s.data.train_files.clear();
  s.data.eval_files.clear();
  s.data.max_bad_rows = DataConfig().max_bad_rows;  // how input is read, not what is learned
  return s.ToYaml();
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

void ConfigureJobPrecision(JobConfig* config) {
  const PrecisionChoice choice =
      ChoosePrecision(config->train.precision, config->train.batch_size, Bf16Supported());
  config->train.precision = choice.precision;
  LogInfo("precision: {}", choice.reason);
  SetGemmPrecision(choice.precision);
}

GemmPrecision ConfigureModelPrecision(const std::string& flag, const JobConfig& stored) {
  PrecisionSetting setting;
  try {
    setting = ParsePrecisionSetting(flag.empty() ? "auto" : flag);
  } catch (const InvalidArgument&) {
    throw ConfigError("--precision", fmt::format("expected auto, fp32 or bf16, got '{}'", flag));
  }
  if (!setting) setting = stored.train.precision;
  const GemmPrecision p =
      ChoosePrecision(setting, stored.train.batch_size, Bf16Supported()).precision;
  SetGemmPrecision(p);
  return p;
}

std::unique_ptr<Optimizer> MakeJobOptimizer(Ranking& model, const JobConfig& config) {
  std::vector<std::pair<std::unique_ptr<Optimizer>, std::vector<Variable*>>> parts;
  parts.emplace_back(MakeOptimizer(config.embedding_optimizer),
                     model.EmbeddingTrainableVariables());
  parts.emplace_back(MakeOptimizer(config.dense_optimizer), model.DenseTrainableVariables());
  return std::make_unique<CompositeOptimizer>(std::move(parts));
}

namespace {

ReaderPosition ToReaderPosition(const InputPositionRecord& r) {
  ReaderPosition p;
  p.rows = r.rows;
  p.file_index = r.file_index;
  p.byte_offset = r.byte_offset;
  p.file_data_row = r.file_data_row;
  p.file_line = r.file_line;
  p.split_row = r.split_row;
  return p;
}

InputPositionRecord ToRecord(const ReaderPosition& p) {
  return InputPositionRecord{p.rows,          p.file_index, p.byte_offset,
                             p.file_data_row, p.file_line,  p.split_row};
}

double SecondsSince(Clock::time_point t0) {
  return std::chrono::duration<double>(Clock::now() - t0).count();
}

// Floats of L2 catch-up state per table row (Optimizer::L2CatchUpState).
double L2CatchUpFloatsPerRow(const RankingConfig& ranking) {
  return ranking.embedding_l2 != 0.0f && ranking.embedding_l2_catch_up >= 2 ? 2.0 : 0.0;
}

// Refuses (ConfigError) a model whose embedding tables and their optimizer state cannot fit in
// the memory available, before anything is allocated. The dense layers (megabytes) and the
// batches are left out: the tables are what can grow past a machine.
void CheckTheTablesFit(const RankingConfig& ranking, const OptimizerConfig& optimizer) {
  double weights = 0.0, state = 0.0;  // bytes
  for (const TableConfig& t : ranking.tables) {
    const double rows = static_cast<double>(t.vocabulary_size), cols = static_cast<double>(t.dim);
    weights += static_cast<double>(EmbeddingPrecisionBytes(t.precision)) * rows * cols;
    state += sizeof(float) *
             (OptimizerStateFloats(optimizer, rows, cols) + L2CatchUpFloatsPerRow(ranking) * rows);
  }
  const double need = weights + state;
  const std::optional<int64_t> available = AvailableMemoryBytes();
  if (!available || need <= static_cast<double>(*available)) return;
  throw ConfigError(fmt::format(
      "the model does not fit in memory: its {} embedding tables need {} ({} of weights and {} "
      "of {} optimizer state), but {} is available; lower model.embedding_dim "
      "(--embedding-dim) or the vocabulary sizes (--hash-buckets), or use an embedding "
      "optimizer with less state (rowwise_adagrad keeps one value per row)",
      ranking.tables.size(), HumanBytes(need), HumanBytes(weights), HumanBytes(state),
      optimizer.kind, HumanBytes(*available)));
}

// The embedding layer of a hybrid-parallel run: the tables placed over run.group's ranks.
std::unique_ptr<DistributedEmbedding> MakeDistributedEmbedding(const RankingConfig& ranking,
                                                               const JobConfig& config,
                                                               const TrainRun& run,
                                                               DistributedEmbedding** out) {
  std::vector<TableLoad> loads;
  for (const TableConfig& t : ranking.tables) {
    const double rows = static_cast<double>(t.vocabulary_size), cols = static_cast<double>(t.dim);
    const double state = OptimizerStateFloats(config.embedding_optimizer, rows, cols) / rows +
                         L2CatchUpFloatsPerRow(ranking);
    int readers = 0;
    for (const FeatureConfig& f : ranking.features) readers += f.table == t.name ? 1 : 0;
    // A row's bytes: its values in the table's precision, its optimizer state in fp32.
    const double value_bytes = static_cast<double>(EmbeddingPrecisionBytes(t.precision)) * cols;
    loads.push_back({t.name, t.vocabulary_size,
                     static_cast<int64_t>(std::ceil(value_bytes + sizeof(float) * state)),
                     static_cast<double>(readers) * config.train.batch_size});
  }
  PlacementOptions po = run.placement;
  po.world_size = run.group->size();
  Placement placement = PlanPlacement(loads, po);
  LogInfo("hybrid-parallel training on {}: dense layers replicated, tables placed:\n{}",
          run.group->Describe(), placement.Describe(loads));
  auto layer = std::make_unique<DistributedEmbedding>(ranking.tables, ranking.features,
                                                      std::move(placement), run.group);
  *out = layer.get();
  return layer;
}

// `config` with train.precision as it runs: a job whose precision is still auto (a library
// caller that did not call ConfigureJobPrecision) trains at the calling thread's precision,
// and the configuration stored with its model says which.
JobConfig WithPrecisionRecorded(const JobConfig& config) {
  JobConfig c = config;
  if (!c.train.precision) c.train.precision = ActiveGemmPrecision();
  return c;
}

}  // namespace

Trainer::Trainer(const JobConfig& config, const TrainRun& run)
    : config_(WithPrecisionRecorded(config)),
      run_(run),
      early_stopping_(config.train.early_stopping_patience, /*higher_is_better=*/true),
      eval_cadence_{config.train.eval_every},
      checkpoint_cadence_{config.train.checkpoint_every} {
  if (run_.train_files.empty()) throw ConfigError("train: no training files given (--train PATH)");
  if (run_.model_out.empty()) throw ConfigError("train: no output path given (--model-out PATH)");
  if (run_.group != nullptr && run_.group->size() > 1) {
    run_.group->StartWatchdog(config_.train.collective_timeout);
    // Every rank must run the same job: its configuration and how it is run.
    CheckSameConfiguration(
        *run_.group,
        fmt::format("{}run:\n  model_out: {}\n  resume: {}\n  train: [{}]\n  eval: [{}]\n  "
                    "row_wise_tables: [{}]\n  max_table_bytes_per_rank: {}\n",
                    config_.ToYaml(), run_.model_out, run_.resume,
                    fmt::join(run_.train_files, ", "), fmt::join(run_.eval_files, ", "),
                    fmt::join(run_.placement.row_wise, ", "), run_.placement.max_bytes_per_rank));
  }
  result_.checkpoint_path = run_.model_out + ".ckpt";
  const TrainOptions& to = config_.train;

  // Data mapping and model: fresh, or restored from the checkpoint.
  const bool several_ranks = run_.group != nullptr && run_.group->size() > 1;
  std::optional<ModelCheckpoint> ckpt;
  std::unique_ptr<ShardedCheckpoint> sharded;
  if (run_.resume) {
    if (!std::filesystem::exists(result_.checkpoint_path)) {
      throw IoError(
          fmt::format("--resume: there is no checkpoint at {} (train without --resume to start)",
                      result_.checkpoint_path));
    }
    Checkpoint file = Checkpoint::Load(result_.checkpoint_path);
    if (IsShardedManifest(file) && several_ranks) {
      // Each rank reads the rows it will hold, not the whole model.
      sharded = std::make_unique<ShardedCheckpoint>(result_.checkpoint_path, file);
      LogInfo("{} is a {}", result_.checkpoint_path, sharded->Describe());
      ckpt = ModelCheckpoint::MainOfSharded(*sharded);
    } else {
      ckpt = ModelCheckpoint::FromContainer(std::move(file));
    }
    const JobConfig saved = JobConfig::FromYamlString(
        ckpt->config_yaml(), result_.checkpoint_path + " (stored configuration)");
    if (ModelSignature(saved) != ModelSignature(config_)) {
      throw ConfigError(
          fmt::format("--resume: {} was written with a different model, optimizer or data "
                      "configuration; resume "
                      "with the same configuration (stored in the checkpoint) or start a new run",
                      result_.checkpoint_path));
    }
    mapping_ = std::make_shared<const DataMapping>(DataMapping::Deserialize(ckpt->mapping()));
  } else {
    if (DataMapping::NeedsPass(config_.data))
      LogInfo("building vocabularies and statistics from the training data");
    mapping_ =
        std::make_shared<const DataMapping>(DataMapping::Build(config_.data, run_.train_files));
  }
  // Readers first: a missing or unreadable file fails before the model is initialised.
  const bool holdout = config_.data.holdout.enabled();
  ReaderOptions ro;
  ro.batch_size = to.batch_size;
  if (to.input_sharding == "bytes" && run_.group != nullptr && run_.group->size() > 1) {
    // Each rank reads its own byte range with a local batch of its share of the global one.
    const int n = run_.group->size(), rank = run_.group->rank();
    if (holdout) {
      throw ConfigError("train.input_sharding",
                        "bytes cannot be combined with data.holdout (the hold-out numbers the "
                        "rows of each file, which a rank reading a byte range does not know); "
                        "use rows, or separate evaluation files");
    }
    if (to.batch_size < n) {
      throw ConfigError("train.input_sharding",
                        fmt::format("bytes needs a batch_size of at least one example per rank "
                                    "({} ranks), got {}",
                                    n, to.batch_size));
    }
    const auto [b, e] = SliceRange(to.batch_size, rank, n);
    ro.batch_size = e - b;
    ro.rank = rank;
    ro.world_size = n;
    ro.by_bytes = true;
    by_bytes_ = true;
  } else if (several_ranks && to.shuffle_buffer <= 1 && !to.in_memory) {
    // The exact feeding: every rank scans the input, but parses and maps only its slice of
    // each global batch. (A shuffle buffer's order, or the in-memory reader, needs every row:
    // then every rank reads the global batch and takes its slice.)
    ro.rank = run_.group->rank();
    ro.world_size = run_.group->size();
    ro.batch_slices = true;
    sliced_ = true;
  }
  ro.split = holdout ? RowSplit::kTrain : RowSplit::kAll;
  ro.shuffle_buffer = to.shuffle_buffer;
  ro.seed = to.seed;
  reader_ = MakeBatchReader(mapping_, run_.train_files, ro, to.in_memory);
  if (!run_.eval_files.empty()) {
    ReaderOptions eo;
    eo.batch_size = to.eval_batch_size;
    eo.split = holdout ? RowSplit::kEval : RowSplit::kAll;
    eval_reader_ = MakeBatchReader(mapping_, run_.eval_files, eo, to.in_memory);
  }

  RankingConfig ranking = config_.MakeRankingConfig(mapping_->spec());
  // Resuming: every variable is restored below, so the tables are not drawn first (a
  // distributed embedding layer, given to the model, draws or restores its own rows).
  ranking.draw_initial_tables = !ckpt.has_value();
  CheckTheTablesFit(ranking, config_.embedding_optimizer);
  DistributedEmbedding* distributed = nullptr;
  if (several_ranks) {
    auto embedding = MakeDistributedEmbedding(ranking, config_, run_, &distributed);
    model_ = std::make_unique<Ranking>(ranking, std::move(embedding));
    hybrid_ = std::make_unique<HybridParallel>(model_.get(), distributed);
  } else {
    model_ = std::make_unique<Ranking>(ranking);
  }
  std::unique_ptr<Optimizer> optimizer = MakeJobOptimizer(*model_, config_);
  state_.seed = to.seed;
  if (sharded) {
    // A sharded checkpoint, whatever rank count wrote it: each rank reads its rows.
    model_->SetOptimizer(std::move(optimizer));
    RestoreShardedCheckpoint(*sharded, *hybrid_);
  } else if (ckpt && hybrid_) {
    // The single-file checkpoint, whatever rank count wrote it: each rank takes its part.
    Ranking full(ranking);
    std::unique_ptr<Optimizer> full_optimizer = MakeJobOptimizer(full, config_);
    ckpt->RestoreVariables(full);
    ckpt->RestoreOptimizer(full, *full_optimizer);
    model_->SetOptimizer(std::move(optimizer));
    hybrid_->ScatterFrom(full, full_optimizer.get());
  } else if (ckpt) {
    ckpt->RestoreVariables(*model_);
    ckpt->RestoreOptimizer(*model_, *optimizer);
  }
  if (ckpt) {
    state_ = ckpt->state();
    LogInfo("resuming from {}: epoch {}, step {}", result_.checkpoint_path, state_.epoch + 1,
            state_.global_step);
  }
  if (optimizer) model_->SetOptimizer(std::move(optimizer));
  // The optimizer's state (Adagrad accumulators, Adam moments: as large as the tables) is
  // allocated and zeroed here with the tables rather than inside the first training step.
  if (!hybrid_) model_->optimizer()->Prepare(model_->TrainableVariables());
  config_yaml_ = config_.ToYaml();
  mapping_text_ = mapping_->Serialize();

  // Early stopping of a resumed run continues from its recorded evaluations.
  early_stopping_ = EarlyStopping(to.early_stopping_patience,
                                  model_->task().loss() == LossKind::kBinaryCrossEntropy);
  keep_best_ = to.keep_best && eval_reader_ != nullptr;
  best_path_ = run_.model_out + ".best";
  history_ = Json::parse(state_.history_json.empty() ? "[]" : state_.history_json);
  for (const Json& h : history_) {
    MetricMap m;
    for (auto& [k, v] : h["metrics"].items()) m[k] = v.is_number() ? v.get<double>() : NAN;
    early_stopping_.Observe(m);
    if (early_stopping_.since_best() == 0)
      MarkBest(m, h["epoch"].get<int64_t>(), h["step"].get<int64_t>());
  }
  // A resumed run whose best model lies behind it continues from the file that holds it.
  if (keep_best_ && best_step_ >= 0 && best_step_ < state_.global_step &&
      !std::filesystem::exists(best_path_)) {
    LogWarning(
        "the best model so far (step {}) should be at {}, which is missing; the last model "
        "will be published unless a later evaluation is better",
        best_step_, best_path_);
    best_step_ = -1;
  }
}

Trainer::~Trainer() = default;

void Trainer::AddHook(TrainHook* hook) {
  CRANK_REQUIRE(hook != nullptr, "Trainer::AddHook: the hook is null");
  hooks_.push_back(hook);
}

TrainResult Trainer::Fit() {
  CRANK_REQUIRE(!fitted_, "Trainer::Fit: a Trainer runs once; make a new one to train again");
  fitted_ = true;
  if (state_.finished) {
    LogInfo("{} holds a finished run; nothing to resume", result_.checkpoint_path);
  }
  int64_t total_bytes = TotalBytes(run_.train_files);
  if (by_bytes_) total_bytes /= run_.group->size();  // about this rank's range (progress)
  for (int64_t e = 0; e < state_.epoch; ++e) reader_->Rewind();  // the shuffle order of epoch e
  if (hybrid_) {
    bool may_stop = false;
    for (const TrainHook* h : hooks_) may_stop |= h->MayStopAtStepEnd();
    hooks_may_stop_ = hybrid_->AnyRank(may_stop);
  }
  while (!state_.finished && !stop_ && state_.epoch < config_.train.epochs) RunEpoch(total_bytes);
  if (result_.rows_skipped > 0)
    LogWarning("{} malformed training rows were skipped", result_.rows_skipped);
  Publish();
  result_.state = state_;
  result_.history_json = history_.dump();
  result_.train_seconds = step_seconds_;
  result_.train_examples_per_sec = step_seconds_ > 0 ? result_.train_examples / step_seconds_ : 0.0;
  return result_;
}

void Trainer::RunEpoch(int64_t total_bytes) {
  const TrainOptions& to = config_.train;
  for (TrainHook* h : hooks_) h->OnEpochBegin(state_.epoch, to.epochs, total_bytes);
  if (state_.batch_in_epoch > 0) ResumeInput();
  auto t0 = Clock::now();
  if (to.max_steps > 0 && state_.global_step >= to.max_steps) stop_ = true;
  local_done_ = false;
  while (!stop_ && NextBatch()) {
    const StepResult r = Step();
    StepEndInfo info;
    info.step = state_.global_step;
    info.epoch = state_.epoch;
    info.batch_size = global_batch_;
    info.loss = r.loss;
    info.total_loss = r.total_loss;
    info.bytes_read = reader_->stats().bytes_read;
    bool hook_stop = false;
    for (TrainHook* h : hooks_) hook_stop |= h->OnStepEnd(info) == HookAction::kStop;
    // Every rank stops at the same step; without a hook that may stop, there is nothing to ask.
    if (hybrid_ && hooks_may_stop_) {
      const int64_t calls0 = hybrid_->group().CommunicationCalls();
      hook_stop = hybrid_->AnyRank(hook_stop);
      result_.communication_calls += hybrid_->group().CommunicationCalls() - calls0;
    }
    const bool at_max = to.max_steps > 0 && state_.global_step >= to.max_steps;
    const bool eval_due = eval_cadence_.Due(state_.global_step);
    const bool checkpoint_due = checkpoint_cadence_.Due(state_.global_step);
    if (!(eval_due || checkpoint_due || at_max || hook_stop)) continue;
    step_seconds_ += SecondsSince(t0);
    if (eval_due) EvaluateNow("every eval_every steps", state_.epoch + 1);
    if (hook_stop) result_.stopped_by_hook = true;
    if (at_max || hook_stop) stop_ = true;
    if (stop_) break;
    if (checkpoint_due) Save(result_.checkpoint_path);
    t0 = Clock::now();
  }
  if (!stop_) step_seconds_ += SecondsSince(t0);
  result_.rows_skipped += reader_->stats().rows_skipped;
  if (state_.global_step == 0) {
    EndEpochForHooks();
    throw DataError(fmt::format("no training examples in {} ({} malformed rows skipped{})",
                                fmt::join(run_.train_files, ", "), result_.rows_skipped,
                                config_.data.holdout.enabled() ? ", hold-out rows excluded" : ""));
  }
  EndEpochForHooks();
  if (!stop_) {
    ++state_.epoch;
    state_.batch_in_epoch = 0;
    reader_->Rewind();
    EvaluateNow("after epoch", state_.epoch);
  }
  // Early stopping and the last epoch finish the run; --max-steps and a hook's stop only pause
  // it (a later --resume continues).
  if (result_.stopped_early || state_.epoch >= to.epochs) state_.finished = true;
  Save(result_.checkpoint_path);
}

void Trainer::ResumeInput() {
  const int64_t batches = state_.batch_in_epoch;
  const char* why = nullptr;
  if (!reader_->CanSeek()) {
    why = "the shuffle buffer's order depends on every row before, so the input cannot seek";
  } else if (!state_.input) {
    why = "the checkpoint has no input position";
  } else if (!reader_->Seek(ToReaderPosition(*state_.input))) {
    why = "this reader cannot seek to the saved position (it was saved by the in-memory reader)";
  }
  if (why == nullptr) {
    LogInfo(
        "resuming the input after {} batches of epoch {} (file {}, byte {}) without "
        "re-reading them",
        batches, state_.epoch + 1, state_.input->file_index, state_.input->byte_offset);
    return;
  }
  LogInfo("resuming the input by re-reading the {} batches of epoch {} already trained: {}",
          batches, state_.epoch + 1, why);
  for (int64_t skip = 0; skip < batches; ++skip) {
    if (!reader_->Next(&batch_)) break;
  }
}

bool Trainer::NextBatch() {
  if (!by_bytes_) {
    if (!reader_->Next(&batch_)) return false;
    global_batch_ = batch_.size();
    return true;
  }
  // Each rank reads its own rows: the epoch goes on while any rank has some; a rank whose
  // range ran out trains on none (an empty slice) until the others finish theirs.
  hybrid_->group().SetPhase(fmt::format("the input of step {}", state_.global_step + 1));
  if (!local_done_ && !reader_->Next(&batch_)) local_done_ = true;
  global_batch_ = hybrid_->GlobalBatchSize(local_done_ ? 0 : batch_.size());
  return global_batch_ > 0;
}

StepResult Trainer::Step() {
  if (best_unsaved_) SaveBest();  // this step moves the weights past the best evaluation's
  // A rank may have no rows of a global batch (its range is done, or its slice is empty).
  const bool have_rows = !(by_bytes_ && local_done_) && batch_.size() > 0;
  if (have_rows && batch_.labels.empty())
    throw DataError("training needs labelled data, but the input has no label column");
  if (state_.global_step == 0 && config_.model.output_bias_init == OutputBiasInit::kLabelMean) {
    double sum_count[2] = {0.0, 0.0};
    if (have_rows) {
      for (int64_t i = 0; i < batch_.labels.size(); ++i) sum_count[0] += batch_.labels[i];
      sum_count[1] = static_cast<double>(batch_.labels.size());
    }
    if (by_bytes_ || sliced_) AllReduceSum(hybrid_->group(), sum_count, 2);  // the global mean
    model_->InitializeOutputBias(sum_count[0] / sum_count[1]);
  }
  StepResult r;
  if (hybrid_) {
    hybrid_->group().SetPhase(fmt::format("training step {}", state_.global_step + 1));
    const double comm0 = hybrid_->group().CommunicationSeconds();
    const int64_t calls0 = hybrid_->group().CommunicationCalls();
    r = by_bytes_ || sliced_ ? hybrid_->TrainSliceStep(have_rows ? &batch_ : nullptr)
                             : hybrid_->TrainStep(batch_);
    global_batch_ = hybrid_->last_global_batch();
    result_.communication_seconds += hybrid_->group().CommunicationSeconds() - comm0;
    result_.communication_calls += hybrid_->group().CommunicationCalls() - calls0;
  } else {
    r = model_->TrainStep(batch_);
  }
  if (!std::isfinite(r.total_loss)) {
    EndEpochForHooks();
    throw NumericError(fmt::format(
        "training diverged: the loss is {} at step {} (epoch {}); the weights of step {} are "
        "kept in {} -- lower the learning rate",
        r.total_loss, state_.global_step + 1, state_.epoch + 1, state_.global_step,
        std::filesystem::exists(result_.checkpoint_path) ? result_.checkpoint_path
                                                         : "no checkpoint yet"));
  }
  ++state_.global_step;
  ++state_.batch_in_epoch;
  state_.examples += global_batch_;
  result_.train_examples += global_batch_;
  return r;
}

void Trainer::EvaluateNow(const char* when, int64_t epoch) {
  if (!eval_reader_) return;
  for (TrainHook* h : hooks_) h->OnEvalBegin(epoch, state_.global_step);
  const MetricMap m = hybrid_ ? EvaluateDistributed() : Evaluate(*model_, *eval_reader_);
  result_.final_eval = m;
  const Json metrics = MetricsToJson(m);
  history_.push_back({{"epoch", epoch}, {"step", state_.global_step}, {"metrics", metrics}});
  LogInfo("eval {} (epoch {}, step {}): {}", when, epoch, state_.global_step, metrics.dump());
  const bool stop = early_stopping_.Observe(m);
  if (early_stopping_.since_best() == 0) MarkBest(m, epoch, state_.global_step);
  if (stop) {
    LogInfo("early stopping: {} has not improved for {} evaluations (best {:.5f})",
            early_stopping_.metric_name(), early_stopping_.since_best(), early_stopping_.best());
    stop_ = true;
    result_.stopped_early = true;
  }
  EvalInfo info;
  info.when = when;
  info.epoch = epoch;
  info.step = state_.global_step;
  info.metrics = &m;
  bool hook_stop = false;
  for (TrainHook* h : hooks_) hook_stop |= h->OnEval(info) == HookAction::kStop;
  if (hybrid_) hook_stop = hybrid_->AnyRank(hook_stop);
  if (hook_stop) {
    stop_ = true;
    result_.stopped_by_hook = true;
  }
}

MetricMap Trainer::EvaluateDistributed() {
  hybrid_->group().SetPhase(fmt::format("the evaluation at step {}", state_.global_step));
  model_->ResetMetrics();
  return EvaluateBatches(
      *eval_reader_, [&](const Batch& batch) { hybrid_->TestStep(batch); },
      [&] {
        MetricMap m = hybrid_->MergedMetrics();
        model_->ResetMetrics();
        return m;
      });
}

void Trainer::WriteModel(const std::string& path, const TrainingState& state) {
  if (!hybrid_) {
    SaveModelCheckpoint(path, *model_, model_->optimizer(), config_yaml_, mapping_text_, state);
    // The files of a sharded checkpoint this file replaced.
    if (path == result_.checkpoint_path) RemoveStaleShards(path, 0);
    return;
  }
  // Every file of several ranks is sharded (the checkpoint, the best evaluation's weights):
  // no rank gathers the model. Publish streams the published one into a single file.
  SaveShardedCheckpoint(path, *hybrid_, config_yaml_, mapping_text_, state);
}

void Trainer::Save(const std::string& path) {
  if (!run_.write_files) return;
  state_.history_json = history_.dump();
  state_.input.reset();
  // A rank reading its own byte range has its own position: a resumed run re-reads.
  if (reader_->CanSeek() && !by_bytes_) state_.input = ToRecord(reader_->position());
  WriteModel(path, state_);
  for (TrainHook* h : hooks_) h->OnCheckpoint(path, state_);
}

void Trainer::MarkBest(const MetricMap& m, int64_t epoch, int64_t step) {
  best_step_ = step;
  best_epoch_ = epoch;
  best_metrics_ = m;
  // Weights of an evaluation replayed on resume are on disk already, unless they are the
  // restored state itself.
  best_unsaved_ = keep_best_ && step == state_.global_step;
}

void Trainer::SaveBest() {
  best_unsaved_ = false;
  if (!run_.write_files) return;
  TrainingState s = state_;
  s.history_json = history_.dump();
  s.input.reset();  // a model, not a place to resume from
  WriteModel(best_path_, s);
}

void Trainer::Publish() {
  // The checkpoint holds the final state: publish it without writing it again, unless the best
  // evaluation came before it.
  std::string from = result_.checkpoint_path;
  if (keep_best_ && best_step_ >= 0) {
    result_.kept_step = best_step_;
    result_.kept_epoch = best_epoch_;
    result_.final_eval = best_metrics_;
    if (best_step_ != state_.global_step) {
      from = best_path_;
      LogInfo(
          "keeping the model of the best evaluation (epoch {}, step {}, {} {:.5f}) rather "
          "than the last (step {}); train.keep_best: false keeps the last",
          best_epoch_, best_step_, early_stopping_.metric_name(), early_stopping_.best(),
          state_.global_step);
    }
  }
  if (!run_.write_files) return;
  // Rank 0 holds the files. A sharded checkpoint (of several ranks) is not a model file: rank
  // 0 streams it into one, a shard file at a time, so no rank holds the whole model; the
  // others wait for it in the barrier below.
  if (hybrid_) {
    hybrid_->group().SetPhase(fmt::format("the model written by rank 0 to {}", run_.model_out));
  }
  if (is_root()) {
    if (ShardedGenerationAt(from) > 0) {
      ShardedCheckpoint::Open(from).WriteSingleFile(run_.model_out);
    } else if (!PublishHardLink(from, run_.model_out)) {
      CopyFileAtomically(from, run_.model_out);
    }
  }
  if (state_.finished && is_root()) {
    std::error_code ignored;
    std::filesystem::remove(best_path_, ignored);
    RemoveStaleShards(best_path_, 0);
  }
  if (hybrid_) hybrid_->group().Barrier();  // the model is in place when any rank returns
}

void Trainer::EndEpochForHooks() {
  for (TrainHook* h : hooks_) h->OnEpochEnd(state_.epoch);
}

TrainResult Train(const JobConfig& config, const TrainRun& run) {
  // The event file first: an unwritable directory fails before the data pass.
  // Only rank 0 reports and writes event files.
  const bool root = run.group == nullptr || run.group->rank() == 0;
  std::unique_ptr<TensorBoardHook> tensorboard;
  if (root && !config.train.tensorboard.empty())
    tensorboard = std::make_unique<TensorBoardHook>(TensorBoardOptionsFor(config));
  Trainer trainer(config, run);
  ProgressHook progress(run.progress_bar, config.train.log_every_seconds);
  if (root) trainer.AddHook(&progress);
  if (tensorboard) trainer.AddHook(tensorboard.get());
  TrainResult result = trainer.Fit();
  if (tensorboard && !tensorboard->error().empty()) {
    LogWarning("the TensorBoard scalars in {} stop where writing failed: {}", tensorboard->path(),
               tensorboard->error());
  }
  return result;
}

}  // namespace crank
