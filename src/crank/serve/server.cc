#include "crank/serve/server.h"

#include <fmt/format.h>
#include <httplib.h>

#include <chrono>
#include <cmath>
#include <iterator>
#include <new>
#include <thread>

#include "crank/base/error.h"
#include "crank/base/log.h"

namespace crank::serve {
namespace {

using Json = nlohmann::json;
using Clock = std::chrono::steady_clock;

const char* kJson = "application/json";
// A connection thread's batch keeps its buffers for the next request unless they hold more.
constexpr size_t kReusedBatchBytes = size_t{1} << 20;

size_t HeldBytes(const Batch& b) {
  size_t bytes = static_cast<size_t>(b.dense.size() + b.labels.size() + b.weights.size()) * 4;
  for (const SparseFeature& f : b.sparse) {
    bytes += (f.ids.capacity() + f.offsets.capacity()) * 8 + f.weights.capacity() * 4;
  }
  return bytes;
}

std::string DumpJson(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

const char* StatusText(int status) {
  switch (status) {
    case 400:
      return "bad request";
    case 404:
      return "not found";
    case 405:
      return "method not allowed";
    case 408:
      return "request timeout";
    case 413:
      return "request body too large";
    case 414:
      return "request URI too long";
    case 503:
      return "service unavailable";
    default:
      return "error";
  }
}

}  // namespace

std::string ErrorBody(std::string_view message) {
  return DumpJson(Json{{"error", std::string(message)}});
}

void ServerOptions::Validate() const {
  if (port < 0 || port > 65535)
    throw InvalidArgument(fmt::format("port: {} is not 0..65535", port));
  if (http_threads < 1) {
    throw InvalidArgument(fmt::format("http_threads: expected >= 1, got {}", http_threads));
  }
  if (max_body_bytes < 1) {
    throw InvalidArgument(fmt::format("max_body_bytes: expected >= 1, got {}", max_body_bytes));
  }
  if (limits.max_rows < 1) {
    throw InvalidArgument(fmt::format("max_rows: expected >= 1, got {}", limits.max_rows));
  }
  if (read_timeout_s < 1 || write_timeout_s < 1 || idle_timeout_s < 1) {
    throw InvalidArgument("timeouts: expected >= 1 s");
  }
  if (name.empty()) throw InvalidArgument("name: empty");
  batcher.Validate();
}

struct InferenceServer::Http {
  httplib::Server svr;
};

InferenceServer::InferenceServer(const ServerOptions& options, ModelHolder* holder,
                                 ServeMetrics* metrics)
    : options_(options),
      holder_(holder),
      metrics_(metrics),
      batcher_(options.batcher, metrics),
      http_(std::make_unique<Http>()) {
  options_.Validate();
  name_json_ = DumpJson(options_.name);
  httplib::Server& svr = http_->svr;
  const size_t threads = static_cast<size_t>(options_.http_threads);
  svr.new_task_queue = [threads] { return new httplib::ThreadPool(threads); };
  svr.set_payload_max_length(static_cast<size_t>(options_.max_body_bytes));
  svr.set_read_timeout(options_.read_timeout_s, 0);
  svr.set_write_timeout(options_.write_timeout_s, 0);
  svr.set_keep_alive_timeout(options_.idle_timeout_s);
  svr.set_keep_alive_max_count(1'000'000);
  svr.set_tcp_nodelay(true);

  const int retry_after_s = options_.retry_after_s;
  const auto json_reply = [retry_after_s](httplib::Response& res, const Reply& r) {
    res.status = r.status;
    if (r.retry_after) res.set_header("Retry-After", std::to_string(retry_after_s));
    res.set_content(r.body, kJson);
  };
  svr.Get("/v2/health/live", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"live":true})", kJson);
  });
  svr.Get("/v2/health/ready", [this](const httplib::Request&, httplib::Response& res) {
    const bool ready = holder_->current() != nullptr && !stop_.load();
    res.status = ready ? 200 : 503;
    res.set_content(ready ? R"({"ready":true})" : R"({"ready":false})", kJson);
  });
  svr.Get("/v2", [](const httplib::Request&, httplib::Response& res) {
    res.set_content(R"({"name":"crank","version":"0.1.0","extensions":[]})", kJson);
  });
  svr.Get(R"(/v2/models/([^/]+))",
          [this, json_reply](const httplib::Request& req, httplib::Response& res) {
            json_reply(res, Metadata(req.matches[1].str(), false));
          });
  svr.Get(R"(/v2/models/([^/]+)/ready)",
          [this, json_reply](const httplib::Request& req, httplib::Response& res) {
            json_reply(res, Metadata(req.matches[1].str(), true));
          });
  // The body is read through a content reader: httplib's plain handlers treat a body sent as
  // application/x-www-form-urlencoded (what `curl -d` sends without -H) as a form, refusing it
  // with 413 above 8 KB and parsing it into query parameters below. An inference body is JSON
  // whatever its Content-Type says; only --max-body-mb limits it.
  svr.Post(R"(/v2/models/([^/]+)/infer)",
           [this, json_reply](const httplib::Request& req, httplib::Response& res,
                              const httplib::ContentReader& content_reader) {
             std::string body;
             const bool read = content_reader([&body](const char* data, size_t length) {
               body.append(data, length);
               return true;
             });
             if (!read) {  // over the limit (httplib set 413) or cut short: the error handler
               if (res.status < 400) res.status = 400;  // words the reply
               return;
             }
             json_reply(res, Infer(req.matches[1].str(), body));
           });
  svr.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
    res.set_content(metrics_->Render(), "text/plain; version=0.0.4");
  });
  // Statuses httplib sets by itself (413 body too large, 404 no route, 400 unreadable request)
  // get the protocol's {"error": ...} body.
  svr.set_error_handler(httplib::Server::HandlerWithResponse(
      [this](const httplib::Request& req, httplib::Response& res) {
        if (!res.body.empty()) return httplib::Server::HandlerResponse::Unhandled;
        std::string what = StatusText(res.status);
        if (res.status == 404) what += fmt::format(": {} {}", req.method, req.path);
        if (res.status == 413) {
          what += fmt::format(" (the limit is {} bytes)", options_.max_body_bytes);
          metrics_->RequestFailed("too_large");
        }
        res.set_content(ErrorBody(what), kJson);
        return httplib::Server::HandlerResponse::Handled;
      }));
  svr.set_exception_handler(
      [this](const httplib::Request&, httplib::Response& res, std::exception_ptr e) {
        std::string what = "internal error";
        try {
          std::rethrow_exception(e);
        } catch (const std::exception& ex) {
          what += std::string(": ") + ex.what();
        } catch (...) {
        }
        metrics_->RequestFailed("internal");
        res.status = 500;
        res.set_content(ErrorBody(what), kJson);
      });
}

InferenceServer::~InferenceServer() {
  Stop();
  batcher_.Stop();
}

int InferenceServer::Bind() {
  httplib::Server& svr = http_->svr;
  int port;
  if (options_.port == 0) {
    port = svr.bind_to_any_port(options_.host);
  } else {
    port = svr.bind_to_port(options_.host, options_.port) ? options_.port : -1;
  }
  if (port < 0) {
    throw IoError(
        fmt::format("cannot listen on {}:{} (address in use, or not an address of "
                    "this machine)",
                    options_.host, options_.port));
  }
  return port;
}

void InferenceServer::Serve() {
  serving_ = true;
  if (!stop_.load()) http_->svr.listen_after_bind();
  serving_ = false;
  batcher_.Stop();
}

void InferenceServer::Stop() {
  if (stop_.exchange(true)) return;
  // Stop may come before Serve has started listening: wait for it (briefly) to be running.
  for (int i = 0; i < 500 && serving_.load() && !http_->svr.is_running(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(2));
  }
  http_->svr.stop();
}

Reply InferenceServer::Metadata(std::string_view model_name, bool ready_only) {
  if (model_name != options_.name) {
    return {404, ErrorBody(fmt::format("unknown model '{}' (this server serves '{}')", model_name,
                                       options_.name))};
  }
  std::shared_ptr<const ServedModel> m = holder_->current();
  if (ready_only) {
    const bool ready = m != nullptr && !stop_.load();
    return {ready ? 200 : 503, ready ? R"({"ready":true})" : R"({"ready":false})"};
  }
  if (m == nullptr) return {503, ErrorBody("model not ready: loading")};
  return {200, DumpJson(m->Metadata(options_.name))};
}

Reply InferenceServer::Infer(std::string_view model_name, std::string_view body) {
  ++received_;
  const Clock::time_point start = Clock::now();
  DynamicBatcher::Arrival arrival(&batcher_);
  try {
    if (model_name != options_.name) {
      throw RequestError(404, fmt::format("unknown model '{}' (this server serves '{}')",
                                          model_name, options_.name));
    }
    std::shared_ptr<const ServedModel> model = holder_->current();
    if (model == nullptr) throw RequestError(503, "model not ready: loading");
    const InferRequest request = ParseInferRequest(body, options_.limits);
    // The connection thread's batch keeps its buffers from one request to the next, unless a
    // large request grew them: memory stays bounded by the number of connection threads.
    thread_local Batch reused;
    struct Shrink {
      ~Shrink() {
        if (HeldBytes(reused) > kReusedBatchBytes) reused = Batch();
      }
    } shrink;
    Batch& batch = reused;
    model->MapInputs(request, &batch);
    if (batch.size() > options_.limits.max_rows) {
      throw RequestError(400, fmt::format("inputs: {} examples, more than the limit of {} per "
                                          "request",
                                          batch.size(), options_.limits.max_rows));
    }
    Tensor predictions;
    batcher_.Infer(model, batch, &predictions, &arrival);
    Reply r{200, InferResponse(request, *model, predictions)};
    metrics_->RequestSucceeded(std::chrono::duration<double>(Clock::now() - start).count());
    return r;
  } catch (const RequestError& e) {
    metrics_->RequestFailed(e.reason());
    Reply r{e.status(), ErrorBody(e.what())};
    r.retry_after = e.status() == 503;
    return r;
  } catch (const InvalidArgument& e) {
    metrics_->RequestFailed("bad_input");
    return {400, ErrorBody(e.what())};
  } catch (const DataError& e) {
    metrics_->RequestFailed("bad_input");
    return {400, ErrorBody(e.what())};
  } catch (const std::bad_alloc&) {
    metrics_->RequestFailed("internal");
    return {500, ErrorBody("internal error: out of memory")};
  } catch (const std::exception& e) {
    metrics_->RequestFailed("internal");
    LogWarning("internal error in an infer request: {}", e.what());
    return {500, ErrorBody(fmt::format("internal error: {}", e.what()))};
  }
}

std::string InferenceServer::InferResponse(const InferRequest& request, const ServedModel& model,
                                           const Tensor& predictions) const {
  std::string out;
  out.reserve(static_cast<size_t>(predictions.size()) * 12 + 160);
  auto it = std::back_inserter(out);
  fmt::format_to(it, R"({{"model_name":{},"model_version":"{}",)", name_json_, model.version());
  if (!request.id.empty()) fmt::format_to(it, R"("id":{},)", DumpJson(request.id));
  fmt::format_to(it, R"("outputs":[{{"name":"predictions","datatype":"FP32","shape":[{}],"data":[)",
                 predictions.size());
  char text[32];
  for (int64_t i = 0; i < predictions.size(); ++i) {
    if (i > 0) out.push_back(',');
    const float v = predictions[i];
    // The shortest text that reads back as the same float (as `crank predict` writes);
    // JSON has no NaN or infinity.
    if (std::isfinite(v)) {
      out.append(text, fmt::format_to(text, "{}", v));
    } else {
      out += "null";
    }
  }
  out += "]}]}";
  return out;
}

}  // namespace crank::serve
