#ifndef CRANK_SERVE_SERVER_H_
#define CRANK_SERVE_SERVER_H_

// InferenceServer: `crank serve`'s HTTP server, speaking the Open Inference Protocol (KServe
// v2 / Triton) over HTTP/JSON on cpp-httplib (docs/serving.md):
//
//   GET  /v2/health/live, /v2/health/ready, /v2      server health and metadata
//   GET  /v2/models/{name}, /v2/models/{name}/ready    model metadata and readiness
//   POST /v2/models/{name}/infer                       predictions (request.h)
//   GET  /metrics                                      Prometheus text (metrics.h)
//
// Errors are {"error": "..."} with 400 bad input, 404 unknown model or path, 413 body too
// large, 503 not ready or overloaded (with Retry-After), 500 internal. A request's failure
// touches nothing but that request.
//
// Threads: `http_threads` connection threads (a fixed pool: memory does not grow with the
// number of connections; a slow client holds one of them at most read_timeout_s), which parse
// and map requests and wait on the DynamicBatcher, whose workers run the forward passes.
// Stop() may be called from any thread: the server stops accepting, answers every request
// it has read, and Serve() returns.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "crank/serve/batcher.h"
#include "crank/serve/metrics.h"
#include "crank/serve/model_holder.h"
#include "crank/serve/request.h"

namespace crank::serve {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;   // 0: any free port (Bind returns it)
  std::string name;  // the model's name in URLs
  int http_threads = 64;
  int64_t max_body_bytes = int64_t{16} << 20;
  RequestLimits limits;
  int read_timeout_s = 5;   // a request must arrive within this
  int write_timeout_s = 5;  // an answer must leave within this
  int idle_timeout_s = 5;   // an idle keep-alive connection is closed after this
  int retry_after_s = 1;    // Retry-After of an overload 503
  BatcherOptions batcher;
  void Validate() const;  // InvalidArgument naming the field
};

// An answer without the HTTP around it.
struct Reply {
  int status = 200;
  std::string body;
  bool retry_after = false;  // an overload 503
};

class InferenceServer {
 public:
  InferenceServer(const ServerOptions& options, ModelHolder* holder, ServeMetrics* metrics);
  ~InferenceServer();
  InferenceServer(const InferenceServer&) = delete;
  InferenceServer& operator=(const InferenceServer&) = delete;

  // Binds options.host:options.port and returns the port. IoError when it cannot.
  int Bind();
  // Serves until Stop(); then finishes every request read and returns.
  void Serve();
  void Stop();

  // POST /v2/models/{name}/infer without HTTP (the handler calls it; tests and fuzzing too).
  Reply Infer(std::string_view model_name, std::string_view body);

  // Infer requests whose body was read (answered or not yet).
  int64_t requests_received() const { return received_.load(); }

 private:
  struct Http;
  Reply Metadata(std::string_view model_name, bool ready_only);
  std::string InferResponse(const InferRequest& request, const ServedModel& model,
                            const Tensor& predictions) const;

  ServerOptions options_;
  std::string name_json_;  // options_.name as a JSON string
  ModelHolder* holder_;
  ServeMetrics* metrics_;
  DynamicBatcher batcher_;
  std::unique_ptr<Http> http_;
  std::atomic<int64_t> received_{0};
  std::atomic<bool> serving_{false}, stop_{false};
};

// {"error": message} (invalid UTF-8 in the message replaced).
std::string ErrorBody(std::string_view message);

}  // namespace crank::serve

#endif  // CRANK_SERVE_SERVER_H_
