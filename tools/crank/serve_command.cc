// `crank serve`: answers Open Inference Protocol requests for one model (docs/serving.md).

#include <pthread.h>
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>

#include "commands.h"
#include "crank/base/error.h"
#include "crank/base/log.h"
#include "crank/serve/metrics.h"
#include "crank/serve/model_holder.h"
#include "crank/serve/server.h"

namespace crank::cli {
namespace {

struct ServeFlags {
  std::string model, host = "127.0.0.1", name;
  int port = 8080, threads = 0, http_threads = 64, timeout_s = 5;
  int64_t max_batch = 512, max_queue_delay_us = 500, max_body_mb = 16, max_rows = 65536,
          max_queue = 1024, watch_ms = 1000;
};

void RunServe(const ServeFlags& f) {
  // Signals go to one thread that waits for them: block them before any thread starts.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  sigaddset(&signals, SIGHUP);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);

  serve::ServerOptions o;
  o.host = f.host;
  o.port = f.port;
  o.name = f.name.empty() ? std::filesystem::path(f.model).stem().string() : f.name;
  o.http_threads = f.http_threads;
  if (f.max_body_mb < 1 || f.max_body_mb > 4096) {
    throw InvalidArgument(fmt::format("--max-body-mb: expected 1..4096, got {}", f.max_body_mb));
  }
  o.max_body_bytes = f.max_body_mb << 20;
  o.limits.max_rows = f.max_rows;
  o.read_timeout_s = o.write_timeout_s = o.idle_timeout_s = f.timeout_s;
  o.batcher.max_batch = f.max_batch;
  o.batcher.max_queue_delay_us = f.max_queue_delay_us;
  o.batcher.max_queued_requests = f.max_queue;
  const unsigned cores = std::thread::hardware_concurrency();
  o.batcher.workers = f.threads > 0 ? f.threads : static_cast<int>(cores > 0 ? cores : 1);
  if (f.watch_ms < 0) throw InvalidArgument(fmt::format("--watch-ms: {} is negative", f.watch_ms));

  serve::ServeMetrics metrics;
  serve::ModelHolder holder(f.model, /*threads=*/1, &metrics);
  serve::InferenceServer server(o, &holder, &metrics);
  const int port = server.Bind();
  std::thread signal_thread([&] {
    for (;;) {
      int sig = 0;
      if (sigwait(&signals, &sig) != 0) continue;
      if (sig == SIGHUP) {
        LogInfo("SIGHUP: reloading {}", f.model);
        holder.RequestReload();
        continue;
      }
      LogInfo("{}: stopping (finishing the requests already read)",
              sig == SIGINT ? "SIGINT" : "SIGTERM");
      server.Stop();
      return;
    }
  });
  std::thread serve_thread([&] { server.Serve(); });
  try {
    holder.LoadInitial();
  } catch (...) {
    kill(getpid(), SIGTERM);  // ends the signal thread, which stops the server
    signal_thread.join();
    serve_thread.join();
    throw;
  }
  holder.Start(std::chrono::milliseconds(f.watch_ms));
  LogInfo(
      "serving model '{}' ({}) on http://{}:{} with {} inference workers; max batch {}, "
      "max queue delay {} us",
      o.name, f.model, o.host, port, o.batcher.workers, o.batcher.max_batch,
      o.batcher.max_queue_delay_us);
  serve_thread.join();
  signal_thread.join();
  holder.Stop();
  LogInfo("stopped: {} infer requests received, {} answered with predictions",
          server.requests_received(), metrics.success());
}

}  // namespace

Action AddServeCommand(CLI::App& app) {
  auto f = std::make_shared<ServeFlags>();
  CLI::App* c = app.add_subcommand(
      "serve", "answer Open Inference Protocol (KServe v2) requests over HTTP for one model");
  c->add_option("--model", f->model, "a model written by crank train")->required();
  c->add_option("--host", f->host, "address to listen on (default 127.0.0.1: this machine only)");
  c->add_option("--port", f->port, "port (default 8080; 0: any free port, logged)");
  c->add_option("--threads", f->threads,
                "inference workers, each running one forward pass at a time (default: all cores)");
  c->add_option("--max-batch", f->max_batch,
                "rows per merged forward pass (default 512; 0: no dynamic batching)");
  c->add_option("--max-queue-delay-us", f->max_queue_delay_us,
                "how long a request may wait for others to merge with (default 500)");
  c->add_option("--max-body-mb", f->max_body_mb, "request body limit in MiB (default 16)");
  c->add_option("--max-rows", f->max_rows, "rows per request limit (default 65536)");
  c->add_option("--max-queue", f->max_queue,
                "queued requests limit; beyond it 503 with Retry-After (default 1024)");
  c->add_option("--http-threads", f->http_threads, "connections served at once (default 64)");
  c->add_option("--timeout-s", f->timeout_s,
                "read, write and keep-alive idle timeout in seconds (default 5)");
  c->add_option("--watch-ms", f->watch_ms,
                "check the model file for a replacement every N ms (default 1000; 0: only on "
                "SIGHUP)");
  c->add_option("--name", f->name,
                "the model's name in URLs (default: the file name without "
                "extension)");
  return [f] { RunServe(*f); };
}

}  // namespace crank::cli
