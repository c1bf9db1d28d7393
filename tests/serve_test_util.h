#ifndef CRANK_TESTS_SERVE_TEST_UTIL_H_
#define CRANK_TESTS_SERVE_TEST_UTIL_H_

// An in-process `crank serve` on an ephemeral port of 127.0.0.1, and helpers to build infer
// bodies and read their answers.

#include <fmt/format.h>
#include <httplib.h>

#include <fstream>
#include <iterator>
#include <memory>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "crank/serve/metrics.h"
#include "crank/serve/model_holder.h"
#include "crank/serve/server.h"

namespace crank::testing {

struct TestServer {
  // Loads `model_path` (unless !load) and serves it as "m" on 127.0.0.1:<free port>.
  explicit TestServer(const std::string& model_path, serve::ServerOptions options = {},
                      bool load = true)
      : holder(model_path, 1, &metrics), server(WithDefaults(options), &holder, &metrics) {
    if (load) holder.LoadInitial();
    port = server.Bind();
    thread = std::thread([this] { server.Serve(); });
  }
  ~TestServer() {
    server.Stop();
    thread.join();
    holder.Stop();
  }
  static serve::ServerOptions WithDefaults(serve::ServerOptions o) {
    o.host = "127.0.0.1";
    o.port = 0;
    if (o.name.empty()) o.name = "m";
    return o;
  }
  httplib::Client Client() const {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30, 0);
    return c;
  }

  serve::ServeMetrics metrics;
  serve::ModelHolder holder;
  serve::InferenceServer server;
  int port = 0;
  std::thread thread;
};

inline std::string ReadFileBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

inline std::string RowsBody(const std::vector<std::string>& rows, const std::string& id = "") {
  nlohmann::json j;
  if (!id.empty()) j["id"] = id;
  j["inputs"] = nlohmann::json::array(
      {{{"name", "rows"}, {"datatype", "BYTES"}, {"shape", {rows.size()}}, {"data", rows}}});
  return j.dump();
}

// The "predictions" of an infer answer as floats (empty when there is none).
inline std::vector<float> Predictions(const std::string& body) {
  std::vector<float> out;
  const auto j = nlohmann::json::parse(body, nullptr, false);
  if (j.is_discarded() || !j.contains("outputs")) return out;
  for (const auto& v : j["outputs"][0]["data"]) out.push_back(v.get<float>());
  return out;
}

// The lines of a text, without their line ends.
inline std::vector<std::string> Lines(const std::string& text) {
  std::vector<std::string> out;
  std::istringstream in(text);
  for (std::string l; std::getline(in, l);) out.push_back(l);
  return out;
}

// The predictions of an infer answer, one per line, as `crank predict` writes them.
inline std::string PredictionLines(const std::string& body) {
  const auto j = nlohmann::json::parse(body);
  std::string out;
  for (const auto& v : j["outputs"][0]["data"]) out += fmt::format("{}\n", v.get<float>());
  return out;
}

}  // namespace crank::testing

#endif  // CRANK_TESTS_SERVE_TEST_UTIL_H_
