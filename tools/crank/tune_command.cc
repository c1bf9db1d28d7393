// crank tune: hyperparameter search within a time budget (train/tune.h, docs/tune.md).

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <signal.h>
#include <stdlib.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/data/config.h"
#include "crank/io/atomic_file.h"
#include "crank/train/trainer.h"
#include "crank/train/tune.h"
#include "crank/train/tune_table.h"

namespace crank::cli {
namespace {

namespace fs = std::filesystem;

// Set by SIGINT / SIGTERM while tune runs: the search stops at the next training step.
std::atomic<bool> g_interrupted{false};
extern "C" void OnInterrupt(int) { g_interrupted.store(true); }

struct TuneFlags {
  std::vector<std::string> train, eval;
  std::string out, config, format, budget, trials_out;
  std::vector<int64_t> dims, buckets, min_counts, epochs, catch_ups;
  int64_t batch_size = 0, min_rung_rows = 0, grow_from = 0;
  double refine_share = 0.25;
  int threads = 0;
  uint64_t seed = 0;
  bool in_memory = false, verbose = false, no_portfolio = false;
};

void WriteText(const std::string& path, const std::string& text) {
  AtomicFileWriter out(path);
  out.Append(text.data(), text.size());
  out.Commit();
}

// A private directory for the trials' models, removed with everything in it.
class WorkDir {
 public:
  WorkDir() {
    std::string pattern = (fs::temp_directory_path() / "crank-tune-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr)
      throw IoError(fmt::format("cannot create a temporary directory {}", pattern));
    path_ = pattern;
  }
  ~WorkDir() {
    std::error_code ignored;
    fs::remove_all(path_, ignored);
  }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace

Action AddTuneCommand(CLI::App& app) {
  auto f = std::make_shared<TuneFlags>();
  const TuneSpace kSpace;  // the defaults the help names
  CLI::App* c = app.add_subcommand(
      "tune",
      "search learning rates, L2 (and its catch-up), embedding dimension, buckets / min count, "
      "interaction and epochs by successive halving within a time budget; writes the best "
      "configuration");
  auto* o_train =
      c->add_option("--train", f->train, "training files, comma-separated")->delimiter(',');
  auto* o_eval = c->add_option("--eval", f->eval, "evaluation files the trials are compared on")
                     ->delimiter(',');
  c->add_option("--budget", f->budget, "wall-clock budget: seconds, or with a unit: 90s, 10m, 1.5h")
      ->required();
  c->add_option("--out", f->out, "where to write the best configuration (YAML for crank train)")
      ->required();
  c->add_option("--config", f->config, "base YAML configuration (the search starts from it)");
  auto* o_format = c->add_option("--format", f->format, "input format: criteo | delimited");
  auto* o_bs = c->add_option("--batch-size", f->batch_size, "examples per training step");
  auto* o_threads = c->add_option("--threads", f->threads, "compute threads (default: all cores)");
  c->add_option("--seed", f->seed,
                "seed of the search: which configurations are drawn (default 0)");
  c->add_option("--trials-out", f->trials_out,
                "also write the trial table: .json as JSON, anything else as TSV");
  auto* o_min = c->add_option("--min-rung-rows", f->min_rung_rows,
                              "rows the smallest rung trains on at least (default 10000)");
  auto* o_dims =
      c->add_option(
           "--embedding-dims", f->dims,
           fmt::format("embedding dimensions to try (default {}, and {} from {} rows)",
                       fmt::join(kSpace.embedding_dims, ","),
                       fmt::join(kSpace.large_data_embedding_dims, ","), kSpace.large_data_rows))
          ->delimiter(',');
  auto* o_buckets = c->add_option("--hash-buckets", f->buckets,
                                  "Criteo hash buckets to try (default 10000,30000,100000,300000)")
                        ->delimiter(',');
  auto* o_counts = c->add_option("--min-counts", f->min_counts,
                                 fmt::format("vocabulary min_count values to try (default {}, "
                                             "and {} from {} rows)",
                                             fmt::join(kSpace.min_counts, ","),
                                             fmt::join(kSpace.large_data_min_counts, ","),
                                             kSpace.large_data_rows))
                       ->delimiter(',');
  auto* o_epochs =
      c->add_option("--epochs", f->epochs, "epoch counts to try (default 1,2,3)")->delimiter(',');
  auto* o_catch_ups =
      c->add_option(
           "--l2-catch-ups", f->catch_ups,
           fmt::format("model.embedding_l2_catch_up values to try with L2 (default {}, "
                       "and {} from {} rows; 0: off)",
                       fmt::join(kSpace.l2_catch_ups, ","),
                       fmt::join(kSpace.large_data_l2_catch_ups, ","), kSpace.large_data_rows))
          ->delimiter(',');
  auto* o_grow = c->add_option(
      "--grow-from", f->grow_from,
      fmt::format("training rows per epoch from which the space also tries embedding dimension "
                  "{}, min_count {} and L2 catch-up {} (default {}; 0: never)",
                  fmt::join(kSpace.large_data_embedding_dims, ","),
                  fmt::join(kSpace.large_data_min_counts, ","),
                  fmt::join(kSpace.large_data_l2_catch_ups, ","), kSpace.large_data_rows));
  auto* o_mem = c->add_flag("--in-memory", f->in_memory, "load the training data into memory");
  c->add_flag("--no-portfolio", f->no_portfolio,
              "start from random draws only, without the portfolio of earlier winners");
  c->add_option("--refine-share", f->refine_share,
                "share of the budget kept for refining the best configuration by one-step "
                "changes (default 0.25; 0: none)");
  c->add_flag("--verbose", f->verbose, "log each trial's training as crank train does");
  return [=] {
    const double budget = ParseDuration(f->budget, "--budget");
    if (o_min->count() && f->min_rung_rows < 1)
      throw ConfigError(
          fmt::format("--min-rung-rows: expected 1 or more, got {}", f->min_rung_rows));
    JobConfig cfg = f->config.empty() ? JobConfig() : JobConfig::FromYamlFile(f->config);
    ConfigOverrides o;
    if (o_format->count()) o.format = f->format;
    if (o_bs->count()) o.batch_size = f->batch_size;
    if (o_threads->count()) o.threads = f->threads;
    if (o_mem->count()) o.in_memory = f->in_memory;
    if (o_train->count()) o.train_files = f->train;
    if (o_eval->count()) o.eval_files = f->eval;
    cfg.ApplyOverrides(o);
    cfg.Validate();
    if (cfg.data.train_files.empty())
      throw ConfigError("--train: no training data: give --train PATH or data.train in --config");
    if (cfg.data.eval_files.empty())
      throw ConfigError("--eval: tune compares trials on evaluation data: give --eval PATH");
    // Absolute paths: the written configuration works from any directory.
    for (auto* files : {&cfg.data.train_files, &cfg.data.eval_files}) {
      for (std::string& p : *files) p = fs::absolute(p).string();
    }

    TuneOptions options;
    options.budget_seconds = budget;
    options.seed = f->seed;
    options.portfolio = !f->no_portfolio;
    if (!(f->refine_share >= 0.0 && f->refine_share < 1.0))
      throw ConfigError(
          fmt::format("--refine-share: expected a share in [0, 1), got {}", f->refine_share));
    options.refine_share = f->refine_share;
    if (o_min->count()) options.min_rung_rows = f->min_rung_rows;
    if (o_grow->count()) {
      if (f->grow_from < 0)
        throw ConfigError(
            fmt::format("--grow-from: expected 0 (never) or a row count, got {}", f->grow_from));
      options.space.large_data_rows = f->grow_from;
    }
    const auto list = [](CLI::Option* opt, const char* flag, const std::vector<int64_t>& values,
                         std::vector<int64_t>* field) {
      if (!opt->count()) return;
      for (int64_t v : values) {
        if (v < 1) throw ConfigError(fmt::format("{}: expected values >= 1, got {}", flag, v));
      }
      *field = values;
    };
    // A list the user gives is searched as given: it does not grow with the data.
    if (o_dims->count()) options.space.large_data_embedding_dims.clear();
    if (o_counts->count()) options.space.large_data_min_counts.clear();
    if (o_catch_ups->count()) {
      options.space.large_data_l2_catch_ups.clear();
      for (int64_t v : f->catch_ups) {
        if (v < 0 || v > kMaxEmbeddingL2CatchUp)
          throw ConfigError(fmt::format("--l2-catch-ups: expected values in [0, {}], got {}",
                                        kMaxEmbeddingL2CatchUp, v));
      }
      options.space.l2_catch_ups = f->catch_ups;
    }
    list(o_dims, "--embedding-dims", f->dims, &options.space.embedding_dims);
    list(o_buckets, "--hash-buckets", f->buckets, &options.space.hash_buckets);
    list(o_counts, "--min-counts", f->min_counts, &options.space.min_counts);
    list(o_epochs, "--epochs", f->epochs, &options.space.epochs);
    // Trial 0 is `crank train`'s default, the encoding included (docs/defaults.md).
    const std::string encoding = ResolveDefaultEncoding(&cfg.data, cfg.data.train_files, false);
    if (!encoding.empty()) LogInfo("{}", encoding);
    const std::string batch = ResolveDefaultBatchSize(&cfg.train, cfg.data.train_files);
    if (!batch.empty()) LogInfo("{}", batch);
    ConfigureJobPrecision(&cfg);
    const int threads = ConfigureThreads(cfg.train.threads);
    WorkDir work;
    LogInfo("tune: budget {:.0f} s, seed {}, {} threads; base configuration:\n{}", budget, f->seed,
            threads, cfg.ToYaml());

    TuneEnv env;
    env.runner = MakeTrainerRunner(work.path());
    const auto t0 = std::chrono::steady_clock::now();
    env.now_seconds = [t0] {
      return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    };
    env.interrupted = [] { return g_interrupted.load(); };
    const std::string metric =
        cfg.data.task == LabelKind::kBinary ? std::string("auc") : std::string("rmse");
    env.on_trial = [metric](const TrialRecord& t) {
      if (t.id == 0) std::printf("%s", TrialTableHeader(metric, false).c_str());
      std::printf("%s", TrialTableRow(t, false).c_str());
      std::fflush(stdout);
    };

    struct sigaction action {};
    action.sa_handler = OnInterrupt;
    action.sa_flags = SA_RESTART;  // system calls of other threads go on rather than fail
    sigemptyset(&action.sa_mask);
    struct sigaction old_int {
    }, old_term{};
    sigaction(SIGINT, &action, &old_int);
    sigaction(SIGTERM, &action, &old_term);
    const LogLevel level = GetLogLevel();
    if (!f->verbose && level < LogLevel::kWarning) SetLogLevel(LogLevel::kWarning);
    TuneResult r;
    try {
      r = Tune(cfg, options, env);
    } catch (...) {
      SetLogLevel(level);
      sigaction(SIGINT, &old_int, nullptr);
      sigaction(SIGTERM, &old_term, nullptr);
      throw;
    }
    SetLogLevel(level);
    sigaction(SIGINT, &old_int, nullptr);
    sigaction(SIGTERM, &old_term, nullptr);

    const double elapsed = env.now_seconds();
    if (!f->trials_out.empty()) {
      const bool json = fs::path(f->trials_out).extension() == ".json";
      WriteText(f->trials_out, json ? TrialsJson(r) : TrialTable(r, /*tsv=*/true));
    }
    if (r.interrupted) LogWarning("tune: interrupted; the best configuration so far follows");
    if (r.best_trial < 0 && r.interrupted) {
      throw std::runtime_error(
          "tune: interrupted before the base configuration finished one training run; nothing "
          "written");
    }
    if (r.best_trial < 0) {
      throw ConfigError(fmt::format(
          "--budget: {:.0f} s ran out before the base configuration finished one training run; "
          "give a larger budget",
          budget));
    }
    const TrialRecord& best = r.trials[r.best_trial];
    WriteText(f->out, r.best_config.ToYaml());
    if (r.space_grew) {
      std::printf("space: %s (grown for %lld training rows per epoch, at least %lld)\n",
                  DescribeGrownLists(r.space).c_str(), static_cast<long long>(r.cost.rows),
                  static_cast<long long>(r.space.large_data_rows));
    }
    const TrialRecord& base = r.trials[0];
    std::printf(
        "best: trial %lld (%s) %s %.5f; base configuration (trial 0) %s %.5f; %zu trials in "
        "%.1f s of a %.0f s budget%s; configuration written to %s\n",
        static_cast<long long>(best.id), best.params.Describe().c_str(), r.metric_name.c_str(),
        best.metric, r.metric_name.c_str(), base.metric, r.trials.size(), elapsed, budget,
        r.interrupted ? " (interrupted)" : "", f->out.c_str());
  };
}

}  // namespace crank::cli
