#include "commands.h"

#include <fmt/ranges.h>
#include <sys/resource.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <ostream>
#include <streambuf>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/batch_reader.h"
#include "crank/data/config.h"
#include "crank/data/synthetic_criteo.h"
#include "crank/io/atomic_file.h"
#include "crank/io/load_model.h"
#include "crank/io/model_checkpoint.h"
#include "crank/io/sharded_checkpoint.h"
#include "crank/kernels/gemm.h"
#include "crank/startup/runtime_env.h"
#include "crank/train/progress.h"
#include "crank/train/trainer.h"

namespace crank::cli {
namespace {

// --resume without an encoding given: the Criteo encoding stored in the checkpoint (a single
// file or a sharded manifest), so a run keeps the encoding it started with whatever the
// default is now. Nothing when the checkpoint is missing (the trainer says so) or not Criteo.
void AdoptResumedEncoding(const std::string& checkpoint_path, DataConfig* data) {
  if (data->format != DataFormat::kCriteo || data->criteo.encoding_given) return;
  if (!std::filesystem::exists(checkpoint_path)) return;
  Checkpoint file = Checkpoint::Load(checkpoint_path);
  std::optional<ModelCheckpoint> ckpt;
  if (IsShardedManifest(file)) {
    ShardedCheckpoint sharded(checkpoint_path, file);
    ckpt = ModelCheckpoint::MainOfSharded(sharded);
  } else {
    ckpt = ModelCheckpoint::FromContainer(std::move(file));
  }
  const JobConfig saved =
      JobConfig::FromYamlString(ckpt->config_yaml(), checkpoint_path + " (stored configuration)");
  if (saved.data.format != DataFormat::kCriteo) return;
  data->criteo.encoding = saved.data.criteo.encoding;
  data->criteo.encoding_given = true;
  LogInfo("--resume: the Criteo encoding stored in {}", checkpoint_path);
}

RowSplit ParseRows(const std::string& s, bool holdout, RowSplit default_split) {
  if (s == "auto") return holdout ? default_split : RowSplit::kAll;
  if (s == "all") return RowSplit::kAll;
  if (s == "train") return RowSplit::kTrain;
  if (s == "eval") return RowSplit::kEval;
  throw ConfigError(fmt::format("--rows: expected auto, all, train or eval, got '{}'", s));
}

using Json = nlohmann::json;

// Writes `text` to `path` atomically (AtomicFileWriter: fsync, rename, directory fsync).
void WriteTextAtomically(const std::string& path, const std::string& text) {
  AtomicFileWriter out(path);
  out.Append(text.data(), text.size());
  out.Commit();
}

// An output stream over an AtomicFileWriter (for writers that take a std::ostream).
class AtomicFileBuf : public std::streambuf {
 public:
  explicit AtomicFileBuf(AtomicFileWriter* out) : out_(out) {}

 protected:
  std::streamsize xsputn(const char* s, std::streamsize n) override {
    out_->Append(s, static_cast<size_t>(n));
    return n;
  }
  int_type overflow(int_type c) override {
    if (c != traits_type::eof()) {
      const char ch = traits_type::to_char_type(c);
      out_->Append(&ch, 1);
    }
    return traits_type::not_eof(c);
  }

 private:
  AtomicFileWriter* out_;
};

// `v` rounded to `digits` decimals (as the JSON shows it).
double Rounded(double v, int digits) {
  const double scale = std::pow(10.0, digits);
  return std::round(v * scale) / scale;
}

// The configuration stored with a loaded model (its train section: precision).
JobConfig StoredConfig(const LoadedModel& m, const std::string& path) {
  return JobConfig::FromYamlString(m.config_yaml, path + " (stored configuration)");
}

double PeakResidentMegabytes() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_maxrss) / 1024.0;  // ru_maxrss is in KiB on Linux
}

void LogCompute(int threads) {
  __builtin_cpu_init();
  const char* isa = __builtin_cpu_supports("avx512bf16") ? "AVX-512 with BF16"
                    : __builtin_cpu_supports("avx512f")  ? "AVX-512"
                    : __builtin_cpu_supports("avx2")     ? "AVX2"
                                                         : "SSE";
  LogInfo("compute: {} threads, CPU ISA {}; GEMM backend {}; idle OpenMP threads {}", threads, isa,
          GemmBackendDescription(), OpenMpWaitDescription());
}

// ---------------------------------------------------------------------------------------------
struct TrainFlags {
  std::vector<std::string> train, eval;
  std::string model_out, config, format, interaction, metrics_out, bad_rows, pooling, precision,
      embedding_precision;
  std::string tensorboard;
  int64_t tensorboard_every = 0;
  std::vector<int64_t> bottom, top;
  int64_t embedding_dim = 0, hash_buckets = 0, min_count = 0, epochs = 0, batch_size = 0,
          checkpoint_every = 0, shuffle_buffer = 0, eval_every = 0, early_stopping = 0,
          max_steps = 0;
  int threads = 0;
  double learning_rate = 0, embedding_learning_rate = 0, dense_learning_rate = 0, max_bad_rows = 0;
  uint64_t seed = 0;
  bool resume = false, in_memory = false, keep_best = true;
  // Several ranks (mpirun): table placement.
  std::vector<std::string> row_wise_tables;
  int64_t max_table_bytes_per_rank = 0;
  double collective_timeout = 0;
  std::string input_sharding;
};

// The exit code of the CLI for an exception (as main.cc's handlers).
int ExitCodeOf(const std::exception& e) {
  if (dynamic_cast<const InvalidArgument*>(&e) != nullptr) return 2;
  if (dynamic_cast<const DataError*>(&e) != nullptr) return 3;
  if (dynamic_cast<const IoError*>(&e) != nullptr) return 4;
  if (dynamic_cast<const NumericError*>(&e) != nullptr) return 5;
  return 1;
}

}  // namespace

Action AddTrainCommand(CLI::App& app) {
  auto f = std::make_shared<TrainFlags>();
  CLI::App* c =
      app.add_subcommand("train", "train a ranking model (defaults: the TFRS Ranking defaults)");
  auto* o_train = c->add_option("--train", f->train,
                                "training files (Criteo TSV or delimited), comma-separated")
                      ->delimiter(',');
  auto* o_eval = c->add_option("--eval", f->eval, "evaluation file(s), evaluated after each epoch")
                     ->delimiter(',');
  c->add_option("--model-out", f->model_out,
                "where to write the trained model (checkpoints go to PATH.ckpt)")
      ->required();
  c->add_option("--config", f->config,
                "YAML configuration (data, model, optimizer, train); flags win");
  auto* o_format =
      c->add_option("--format", f->format,
                    "input format: criteo | delimited (delimited needs a schema in --config)");
  auto* o_inter =
      c->add_option("--interaction", f->interaction, "feature interaction: dot | cross | concat");
  auto* o_dim =
      c->add_option("--embedding-dim", f->embedding_dim, "embedding dimension (default 16)");
  auto* o_bottom =
      c->add_option("--bottom", f->bottom, "bottom MLP sizes, e.g. 256,64,16")->delimiter(',');
  auto* o_top = c->add_option("--top", f->top, "top MLP sizes, e.g. 512,256,1")->delimiter(',');
  auto* o_pool = c->add_option("--pooling", f->pooling, "multi-hot pooling: sum | mean | sqrtn");
  auto* o_emb_prec = c->add_option(
      "--embedding-precision", f->embedding_precision,
      "storage of the embedding tables: fp32 (default) | bf16 | fp16 (16 bits: half the memory, "
      "fp32 arithmetic, stochastic rounding on update)");
  auto* o_hash = c->add_option("--hash-buckets", f->hash_buckets,
                               "hash buckets per Criteo categorical field (default: none, a "
                               "vocabulary as --min-count 2; 100000 buckets where the training "
                               "input is a pipe or byte-sharded, the log says which)");
  auto* o_min_count = c->add_option(
      "--min-count", f->min_count,
      "Criteo: a vocabulary per categorical field of the tokens seen at least N times in the "
      "training data; rarer and unseen tokens share one out-of-vocabulary row (excludes "
      "--hash-buckets; default 2, at most 1000000 tokens per field)");
  auto* o_epochs =
      c->add_option("--epochs", f->epochs, "passes over the training data (default 1)");
  auto* o_bs =
      c->add_option("--batch-size", f->batch_size, "examples per training step (default 512)");
  auto* o_lr = c->add_option(
      "--learning-rate", f->learning_rate,
      "learning rate of both optimizers (default: embedding adagrad 0.1, dense adam 0.002)");
  auto* o_elr = c->add_option("--embedding-learning-rate", f->embedding_learning_rate,
                              "learning rate of the embedding optimizer");
  auto* o_dlr = c->add_option("--dense-learning-rate", f->dense_learning_rate,
                              "learning rate of the dense optimizer");
  auto* o_threads = c->add_option("--threads", f->threads, "compute threads (default: all cores)");
  auto* o_seed =
      c->add_option("--seed", f->seed, "seed of initialisation and shuffling (default 0)");
  c->add_option("--metrics-out", f->metrics_out, "write the final metrics and history as JSON");
  auto* o_ckpt = c->add_option("--checkpoint-every", f->checkpoint_every,
                               "also checkpoint every N steps (default: at the end of each epoch)");
  auto* o_shuffle = c->add_option("--shuffle-buffer", f->shuffle_buffer,
                                  "rows in the shuffle buffer (default 0: file order)");
  auto* o_eval_every = c->add_option("--eval-every", f->eval_every, "also evaluate every N steps");
  auto* o_es =
      c->add_option("--early-stopping", f->early_stopping,
                    "stop after N evaluations without improvement of AUC (RMSE for ratings)");
  auto* o_max = c->add_option("--max-steps", f->max_steps, "stop after N steps in total");
  auto* o_bad = c->add_option("--bad-rows", f->bad_rows,
                              "malformed rows: skip (count and warn) | fail (stop at the first)");
  auto* o_max_bad = c->add_option(
      "--max-bad-rows", f->max_bad_rows,
      "malformed rows skipped before a pass stops: a fraction of the rows read (checked from "
      "1000 rows on), a count (an integer >= 1) or -1: no limit (default)");
  c->add_flag("--resume", f->resume, "continue from PATH.ckpt of --model-out");
  c->add_option("--row-wise-tables", f->row_wise_tables,
                "under mpirun: tables split row-wise over every rank, comma-separated")
      ->delimiter(',');
  c->add_option("--max-table-bytes-per-rank", f->max_table_bytes_per_rank,
                "under mpirun: bytes of tables (weights and optimizer state) one rank may hold; "
                "a larger table is split row-wise (default 0: no limit)");
  auto* o_timeout = c->add_option(
      "--collective-timeout", f->collective_timeout,
      "under mpirun: seconds one rank may wait in one collective before the job is ended as "
      "hung (a rank stopped or stuck); 0: never (default 300)");
  auto* o_sharding = c->add_option(
      "--input-sharding", f->input_sharding,
      "under mpirun: rows (default: every rank reads every row, the batches of one process) | "
      "bytes (each rank reads only its own byte range of the training files)");
  auto* o_mem =
      c->add_flag("--in-memory", f->in_memory, "load the training data into memory first");
  auto* o_keep = c->add_flag("--keep-best,!--no-keep-best", f->keep_best,
                             "with --eval: publish the model of the best evaluation, not the last "
                             "(default; --no-keep-best keeps the last)");
  auto* o_prec = c->add_option(
      "--precision", f->precision,
      "GEMM precision: auto (default: bf16 on AVX512-BF16/AMX CPUs at batch sizes 512-4096, else "
      "fp32; the log says which) | fp32 | bf16 (fp32 master weights)");
  auto* o_tb = c->add_option(
      "--tensorboard", f->tensorboard,
      "write loss, examples/s, learning rates and eval metrics as TensorBoard scalars to an "
      "event file in DIR");
  auto* o_tb_every = c->add_option("--tensorboard-every", f->tensorboard_every,
                                   "steps between TensorBoard training scalars (default 100)");
  // The whole command on `group`'s rank.
  const auto run_train = [=](ProcessGroup& group) {
    JobConfig cfg = f->config.empty() ? JobConfig() : JobConfig::FromYamlFile(f->config);
    ConfigOverrides o;
    const auto given = [](CLI::Option* opt, const auto& value, auto* field) {
      if (opt->count()) *field = value;
    };
    given(o_format, f->format, &o.format);
    given(o_inter, f->interaction, &o.interaction);
    given(o_dim, f->embedding_dim, &o.embedding_dim);
    given(o_bottom, f->bottom, &o.bottom);
    given(o_top, f->top, &o.top);
    given(o_pool, f->pooling, &o.pooling);
    given(o_emb_prec, f->embedding_precision, &o.embedding_precision);
    given(o_hash, f->hash_buckets, &o.hash_buckets);
    given(o_min_count, f->min_count, &o.min_count);
    given(o_epochs, f->epochs, &o.epochs);
    given(o_bs, f->batch_size, &o.batch_size);
    given(o_lr, f->learning_rate, &o.learning_rate);
    given(o_elr, f->embedding_learning_rate, &o.embedding_learning_rate);
    given(o_dlr, f->dense_learning_rate, &o.dense_learning_rate);
    given(o_threads, f->threads, &o.threads);
    given(o_seed, f->seed, &o.seed);
    given(o_ckpt, f->checkpoint_every, &o.checkpoint_every);
    given(o_shuffle, f->shuffle_buffer, &o.shuffle_buffer);
    given(o_eval_every, f->eval_every, &o.eval_every);
    given(o_es, f->early_stopping, &o.early_stopping_patience);
    given(o_max, f->max_steps, &o.max_steps);
    given(o_bad, f->bad_rows, &o.bad_rows);
    given(o_max_bad, f->max_bad_rows, &o.max_bad_rows);
    given(o_mem, f->in_memory, &o.in_memory);
    given(o_keep, f->keep_best, &o.keep_best);
    given(o_prec, f->precision, &o.precision);
    given(o_tb, f->tensorboard, &o.tensorboard);
    given(o_tb_every, f->tensorboard_every, &o.tensorboard_every);
    given(o_timeout, f->collective_timeout, &o.collective_timeout);
    given(o_sharding, f->input_sharding, &o.input_sharding);
    given(o_train, f->train, &o.train_files);
    given(o_eval, f->eval, &o.eval_files);
    cfg.ApplyOverrides(o);
    cfg.Validate();

    TrainRun run;
    run.train_files = cfg.data.train_files;
    run.eval_files = cfg.data.eval_files;
    run.model_out = f->model_out;
    run.resume = f->resume;
    run.progress_bar = StderrIsTerminal() && GetLogLevel() <= LogLevel::kInfo;
    run.group = &group;
    run.placement.row_wise = f->row_wise_tables;
    run.placement.max_bytes_per_rank = f->max_table_bytes_per_rank;
    if (run.train_files.empty())
      throw ConfigError("train: no training data: give --train PATH or data.train in --config");
    // The default Criteo encoding follows from the input (docs/defaults.md, "The encoding rule"),
    // or, on --resume, is the checkpoint's: a run started before the rule hashed by default.
    if (run.resume) AdoptResumedEncoding(run.model_out + ".ckpt", &cfg.data);
    const std::string encoding = ResolveDefaultEncoding(
        &cfg.data, run.train_files, group.size() > 1 && cfg.train.input_sharding == "bytes");
    if (!encoding.empty()) LogInfo("{}", encoding);
    const std::string batch = ResolveDefaultBatchSize(&cfg.train, run.train_files);
    if (!batch.empty()) LogInfo("{}", batch);
    ConfigureJobPrecision(&cfg);
    LogInfo("resolved configuration:\n{}", cfg.ToYaml());
    LogCompute(ConfigureThreads(cfg.train.threads));
    const TrainResult r = Train(cfg, run);
    const double peak_mb = PeakResidentMegabytes();
    LogInfo(
        "trained {} examples in {:.1f} s ({:.0f} examples/s); model written to {}; peak memory "
        "{:.0f} MB",
        r.train_examples, r.train_seconds, r.train_examples_per_sec, run.model_out, peak_mb);
    // Every rank's peak, on rank 0 (the memory a rank needs, --max-table-bytes-per-rank).
    std::vector<double> rank_peak_mb;
    if (group.size() > 1) {
      std::vector<std::string> peaks;
      group.SetPhase("the end of training");
      group.GatherV(fmt::format("{:.1f}", peak_mb), 0, &peaks);
      for (const std::string& p : peaks) rank_peak_mb.push_back(std::stod(p));
      LogInfo("{} ranks: {:.1f} s of the training steps in communication on rank 0 ({:.0f}%)",
              group.size(), r.communication_seconds,
              r.train_seconds > 0 ? 100.0 * r.communication_seconds / r.train_seconds : 0.0);
      LogInfo("peak memory per rank: {:.0f} MB", fmt::join(rank_peak_mb, ", "));
    }
    Json j = MetricsToJson(r.final_eval);
    j["train_examples"] = r.train_examples;
    j["train_examples_per_sec"] = Rounded(r.train_examples_per_sec, 1);
    j["train_seconds"] = Rounded(r.train_seconds, 3);
    if (group.size() > 1) {
      j["ranks"] = group.size();
      j["communication_seconds"] = Rounded(r.communication_seconds, 3);
      j["communication_calls"] = r.communication_calls;
    }
    j["steps"] = r.state.global_step;
    j["epochs_completed"] = r.state.epoch;
    j["rows_skipped"] = r.rows_skipped;
    j["stopped_early"] = r.stopped_early;
    if (r.kept_step >= 0) j["kept"] = {{"epoch", r.kept_epoch}, {"step", r.kept_step}};
    j["peak_rss_mb"] = Rounded(peak_mb, 1);
    if (!rank_peak_mb.empty()) j["peak_rss_mb_per_rank"] = rank_peak_mb;
    j["history"] = Json::parse(r.history_json);
    const std::string json = j.dump(2);
    if (!r.final_eval.empty()) {
      const std::string which =
          r.kept_step >= 0
              ? fmt::format(" (the model kept: epoch {}, step {})", r.kept_epoch, r.kept_step)
              : std::string();
      LogInfo("final evaluation{}: {}", which, MetricsToJson(r.final_eval).dump());
    }
    if (!f->metrics_out.empty() && group.rank() == 0) {
      WriteTextAtomically(f->metrics_out, json + "\n");
    }
  };
  return [=] {
    // Under mpirun: the ranks of the job (MPI), else this process alone. Only rank 0 reports;
    // a failure on any rank ends the whole job (MPI_Abort) rather than leave the others
    // waiting in a collective.
    const std::unique_ptr<ProcessGroup> group = MakeProcessGroup();
    if (group->size() == 1) return run_train(*group);
    if (group->rank() != 0) SetLogLevel(LogLevel::kError);
    try {
      run_train(*group);
    } catch (const std::exception& e) {
      std::fprintf(stderr, "crank: error on rank %d of %d: %s\n", group->rank(), group->size(),
                   e.what());
      std::fflush(stderr);
      group->Abort(ExitCodeOf(e));
    }
  };
}

namespace {
struct ModelDataFlags {
  std::string model, out, metrics_out, bad_rows, rows = "auto", precision;
  std::vector<std::string> data;
  int64_t batch_size = 4096;
  int threads = 0;
};

std::unique_ptr<BatchReader> OpenReader(const LoadedModel& m, const ModelDataFlags& f,
                                        CLI::Option* bad_opt, ErrorPolicy default_policy,
                                        RowSplit default_split) {
  std::shared_ptr<const DataMapping> mapping = m.mapping;
  const ErrorPolicy policy = bad_opt->count() ? ParseBadRows(f.bad_rows) : default_policy;
  mapping = std::make_shared<const DataMapping>(mapping->WithErrorPolicy(policy));
  ReaderOptions ro;
  ro.batch_size = f.batch_size;
  ro.split = ParseRows(f.rows, mapping->config().holdout.enabled(), default_split);
  return MakeBatchReader(mapping, f.data, ro, /*in_memory=*/false);
}

void AddModelDataOptions(CLI::App* c, ModelDataFlags& f) {
  c->add_option("--model", f.model, "a model written by crank train")->required();
  c->add_option("--data", f.data, "input file(s), comma-separated, in the model's data format")
      ->required()
      ->delimiter(',');
  c->add_option("--batch-size", f.batch_size, "examples per batch (default 4096)");
  c->add_option("--threads", f.threads, "compute threads (default: all cores)");
  c->add_option("--precision", f.precision,
                "GEMM precision: auto (default: as trained) | fp32 | bf16");
  c->add_option("--rows", f.rows,
                "which rows: auto (the held-out rows when the model's data config has a hold-out), "
                "all, train, eval");
}
}  // namespace

Action AddEvalCommand(CLI::App& app) {
  auto f = std::make_shared<ModelDataFlags>();
  CLI::App* c = app.add_subcommand("eval", "evaluate a model on labelled data");
  AddModelDataOptions(c, *f);
  c->add_option("--metrics-out", f->metrics_out, "write the metrics as JSON");
  auto* bad =
      c->add_option("--bad-rows", f->bad_rows, "malformed rows: skip | fail (default: as trained)");
  return [=] {
    LoadedModel m = LoadModel(f->model);
    ConfigureModelPrecision(f->precision, StoredConfig(m, f->model));
    LogCompute(ConfigureThreads(f->threads));
    auto reader = OpenReader(m, *f, bad, m.mapping->config().on_error, RowSplit::kEval);
    const MetricMap metrics = Evaluate(*m.model, *reader);
    const std::string json = MetricsToJson(metrics).dump(2);
    std::printf("%s\n", json.c_str());
    if (!f->metrics_out.empty()) WriteTextAtomically(f->metrics_out, json + "\n");
  };
}

Action AddPredictCommand(CLI::App& app) {
  auto f = std::make_shared<ModelDataFlags>();
  CLI::App* c = app.add_subcommand("predict", "write one prediction per input row, in input order");
  AddModelDataOptions(c, *f);
  c->add_option("--out", f->out, "output file: one prediction per line")->required();
  auto* bad =
      c->add_option("--bad-rows", f->bad_rows,
                    "malformed rows: fail (default: keeps one prediction per input row) | skip");
  f->rows = "all";
  return [=] {
    LoadedModel m = LoadModel(f->model);
    ConfigureModelPrecision(f->precision, StoredConfig(m, f->model));
    LogCompute(ConfigureThreads(f->threads));
    auto reader = OpenReader(m, *f, bad, ErrorPolicy::kFail, RowSplit::kEval);
    const auto t0 = std::chrono::steady_clock::now();
    const int64_t n = PredictToFile(*m.model, *reader, f->out);
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (reader->stats().rows_skipped > 0) {
      LogWarning("{} malformed rows were skipped and have no prediction",
                 reader->stats().rows_skipped);
    }
    // The rate counts reading, parsing, the forward passes and writing: the whole loop.
    LogInfo("wrote {} predictions to {} in {:.3f} s ({:.1f} examples/s)", n, f->out, seconds,
            seconds > 0 ? static_cast<double>(n) / seconds : 0.0);
  };
}

Action AddGenCommand(CLI::App& app) {
  auto o = std::make_shared<SyntheticOptions>();
  auto out = std::make_shared<std::string>();
  auto unlabelled = std::make_shared<bool>(false);
  CLI::App* c = app.add_subcommand("gen",
                                   "write synthetic Criteo-format data from a hidden click model "
                                   "(learnable, no download needed)");
  c->add_option("--rows", o->rows, "rows to write")->required();
  c->add_option("--out", *out, "output TSV file")->required();
  c->add_option("--seed", o->seed, "seed of the rows drawn (default 1)");
  c->add_option("--teacher-seed", o->teacher_seed,
                "seed of the hidden click model (default 1); files with the same teacher seed and "
                "different --seed are train and eval data of one problem");
  c->add_option("--missing-rate", o->missing_rate,
                "mean fraction of missing values per field (default 0.1)");
  c->add_option("--base-ctr", o->base_ctr, "mean click rate (default 0.25)");
  c->add_flag("--unlabelled", *unlabelled, "write the 39-column variant without labels");
  c->add_option("--zipf-exponent", o->zipf_exponent,
                "Zipf exponent of the token frequencies, in (0, 5] (default 1.1); smaller = "
                "heavier tail, more rare tokens");
  c->add_option("--max-cardinality", o->max_cardinality,
                "distinct tokens per categorical field at most (default 100000)");
  auto no_dense = std::make_shared<bool>(false);
  c->add_flag("--no-dense", *no_dense,
              "leave I1..I13 empty; the click model then uses the categorical fields only");
  return [=] {
    SyntheticOptions opts = *o;
    opts.labelled = !*unlabelled;
    opts.dense = !*no_dense;
    opts.Validate();
    AtomicFileWriter writer(*out);
    AtomicFileBuf buf(&writer);
    std::ostream file(&buf);
    file.exceptions(std::ios::badbit);  // an IoError of the writer propagates as is
    const SyntheticSummary s = GenerateSyntheticCriteo(opts, file);
    file.flush();
    if (!file) throw IoError(fmt::format("cannot write {}: write failed", *out));
    writer.Commit();
    LogInfo("wrote {} rows to {} ({} positives, {:.3f} mean click probability)", s.rows, *out,
            s.positives, s.mean_probability);
  };
}

Action AddInfoCommand(CLI::App& app) {
  auto path = std::make_shared<std::string>();
  CLI::App* c = app.add_subcommand(
      "info", "print a model's configuration, data mapping summary and training state");
  c->add_option("--model", *path, "a model or checkpoint written by crank train")->required();
  return [=] {
    LoadedModel m = LoadModel(*path);
    int64_t params = 0;
    for (Variable* v : m.model->TrainableVariables()) params += v->size();
    std::printf("%s", StoredConfig(m, *path).ToYaml().c_str());
    std::printf("# dense features: %lld, sparse features: %lld, parameters: %lld\n",
                static_cast<long long>(m.mapping->spec().num_dense()),
                static_cast<long long>(m.mapping->spec().num_sparse()),
                static_cast<long long>(params));
    int64_t rows = 0;
    for (const auto& f : m.mapping->spec().sparse) rows += f.vocabulary_size;
    std::printf("# embedding rows: %lld (all sparse features)\n", static_cast<long long>(rows));
    std::printf("# trained: %lld steps, %lld examples, %lld epochs completed%s\n",
                static_cast<long long>(m.state.global_step),
                static_cast<long long>(m.state.examples), static_cast<long long>(m.state.epoch),
                m.state.finished ? ", finished" : "");
  };
}

}  // namespace crank::cli
