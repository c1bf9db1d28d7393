// `crank serve` end to end: predictions over HTTP equal `crank predict` on the same rows (dot
// and cross models, labelled and unlabelled Criteo rows, a delimited schema with a multi-hot
// feature), a reload under 8 clients, and SIGTERM under load.

#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "cli_fixture.h"
#include "crank/data/model_inputs.h"
#include "crank/serve/served_model.h"
#include "serve_test_util.h"

namespace crank {
namespace {

namespace fs = std::filesystem;
using testing::Predictions;
using testing::ReadFile;
using testing::RowsBody;
using testing::TestServer;
using ServeCli = testing::CliFixture;
using testing::Lines;
using testing::PredictionLines;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

// Starts `crank serve --model MODEL --port 0 ARGS...` with stderr to `log`; returns its pid
// and sets *port from its ready line (0 when it did not get ready).
pid_t StartServe(const std::string& model, const std::string& log,
                 const std::vector<std::string>& args, int* port) {
  const pid_t pid = fork();
  if (pid == 0) {
    const std::string bin = std::string(CRANK_BINARY_DIR) + "/bin/crank";
    std::vector<std::string> all = {bin, "serve", "--model", model, "--port", "0"};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (freopen(log.c_str(), "w", stderr) == nullptr) _exit(126);
    execv(bin.c_str(), argv.data());
    _exit(127);
  }
  *port = 0;
  for (int i = 0; i < 1000 && *port == 0; ++i) {
    std::smatch m;
    const std::string text = ReadFile(log);
    if (std::regex_search(text, m, std::regex("http://127\\.0\\.0\\.1:([0-9]+)"))) {
      *port = std::stoi(m[1]);
    } else {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
  }
  return pid;
}

// Waits up to 30 s for `pattern` in the text of `log`.
bool LogShows(const std::string& log, const std::string& pattern) {
  for (int i = 0; i < 3000; ++i) {
    if (ReadFile(log).find(pattern) != std::string::npos) return true;
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  return false;
}

TEST_F(ServeCli, RowsGiveCrankPredictBitsForDotAndCrossModels) {
  Generate(3000, 200);
  for (const char* interaction : {"dot", "cross"}) {
    const std::string model = P(std::string(interaction) + ".crank");
    ASSERT_EQ(Run("train --train " + P("train.tsv") + " --model-out " + model + SmallModel() +
                  " --interaction " + interaction)
                  .code,
              0);
    TestServer s(model);
    auto c = s.Client();
    const std::vector<std::string> rows = Lines(ReadFile(P("eval.tsv")));
    for (size_t n : {size_t{1}, size_t{37}, size_t{200}}) {
      std::vector<std::string> part(rows.begin(), rows.begin() + static_cast<long>(n));
      std::string file;
      for (const auto& r : part) file += r + "\n";
      WriteText(P("part.tsv"), file);
      ASSERT_EQ(
          Run("predict --model " + model + " --data " + P("part.tsv") + " --out " + P("pred.txt"))
              .code,
          0);
      auto r = c.Post("/v2/models/m/infer", RowsBody(part), "application/json");
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(PredictionLines(r->body), ReadFile(P("pred.txt"))) << interaction << " " << n;
      // Without the label column: the same predictions.
      for (auto& row : part) row = row.substr(row.find('\t') + 1);
      r = c.Post("/v2/models/m/infer", RowsBody(part), "application/json");
      ASSERT_EQ(r->status, 200) << r->body;
      EXPECT_EQ(PredictionLines(r->body), ReadFile(P("pred.txt"))) << interaction << " " << n;
    }
    // A bad row is named with its field.
    auto r = c.Post("/v2/models/m/infer", RowsBody({rows[0], "1\t2\t3"}), "application/json");
    EXPECT_EQ(r->status, 400);
    EXPECT_NE(r->body.find("rows[1]: expected 40 tab-separated columns"), std::string::npos)
        << r->body;
  }
}

TEST_F(ServeCli, MultiHotDelimitedRowsGiveCrankPredictBits) {
  std::string data = "user,genres,age,y\n";
  const char* genres[] = {"a|b", "c", "", "a|c|d", "b|b", "d"};
  for (int i = 0; i < 600; ++i) {
    data += fmt::format("u{},{},{},{}\n", i % 17, genres[i % 6], (i * 7) % 50, i % 3 == 0 ? 1 : 0);
  }
  WriteText(P("data.csv"), data);
  WriteText(P("config.yaml"),
            "data:\n"
            "  format: delimited\n"
            "  delimited:\n"
            "    label: y\n"
            "    dense: [age]\n"
            "    categorical:\n"
            "      - {name: user, hash_buckets: 50}\n"
            "    multi_hot:\n"
            "      - {name: genres, separator: \"|\", vocabulary: {min_count: 1}}\n");
  const testing::Result t =
      Run("train --config " + P("config.yaml") + " --train " + P("data.csv") + " --model-out " +
          P("mh.crank") + " --embedding-dim 4 --bottom 16,4 --top 16,1 --batch-size 64");
  ASSERT_EQ(t.code, 0) << t.err;
  const std::vector<std::string> lines = Lines(data);
  std::vector<std::string> part(lines.begin(), lines.begin() + 41);  // header + 40 rows
  std::string file;
  for (const auto& r : part) file += r + "\n";
  WriteText(P("part.csv"), file);
  ASSERT_EQ(
      Run("predict --model " + P("mh.crank") + " --data " + P("part.csv") + " --out " + P("p.txt"))
          .code,
      0);
  TestServer s(P("mh.crank"));
  auto c = s.Client();
  auto r = c.Post("/v2/models/m/infer", RowsBody(part), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PredictionLines(r->body), ReadFile(P("p.txt")));
  // The same rows as typed tensors in model space (dense, user, genres + genres.lengths).
  {
    auto model = serve::ServedModel::Load(P("mh.crank"), 1, 1);
    serve::InferRequest rows_request;
    rows_request.has_rows = true;
    rows_request.rows.assign(part.begin(), part.end());
    Batch batch;
    model->MapInputs(rows_request, &batch);
    nlohmann::json typed;
    typed["inputs"] = ModelInputsToJson(BatchToModelInputs(batch, model->spec()));
    ASSERT_NE(typed.dump().find("genres.lengths"), std::string::npos);
    r = c.Post("/v2/models/m/infer", typed.dump(), "application/json");
    ASSERT_EQ(r->status, 200) << r->body;
    EXPECT_EQ(PredictionLines(r->body), ReadFile(P("p.txt")));
  }
  // Unlabelled rows, with the header given as a parameter.
  std::vector<std::string> unlabelled;
  for (size_t i = 1; i < part.size(); ++i)
    unlabelled.push_back(part[i].substr(0, part[i].rfind(',')));
  nlohmann::json body = nlohmann::json::parse(RowsBody(unlabelled));
  body["parameters"] = {{"header", "user,genres,age"}};
  r = c.Post("/v2/models/m/infer", body.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(PredictionLines(r->body), ReadFile(P("p.txt")));
}

TEST_F(ServeCli, ReloadUnderEightClientsFailsNoRequest) {
  Generate(3000, 50);
  ASSERT_EQ(Run("train --train " + P("train.tsv") + " --model-out " + P("a.crank") + SmallModel() +
                " --seed 1")
                .code,
            0);
  ASSERT_EQ(Run("train --train " + P("train.tsv") + " --model-out " + P("b.crank") + SmallModel() +
                " --seed 2 --interaction cross")
                .code,
            0);
  const std::vector<std::string> rows = Lines(ReadFile(P("eval.tsv")));
  const std::string body = RowsBody(rows);
  std::vector<float> answer_a, answer_b;
  {
    TestServer a(P("a.crank"));
    answer_a = Predictions(a.server.Infer("m", body).body);
    TestServer b(P("b.crank"));
    answer_b = Predictions(b.server.Infer("m", body).body);
  }
  ASSERT_EQ(answer_a.size(), 50u);
  ASSERT_NE(answer_a, answer_b);
  fs::copy_file(P("a.crank"), P("served.crank"));
  serve::ServerOptions o;
  o.batcher.max_batch = 0;  // every request alone: its answer is exactly one model's
  TestServer s(P("served.crank"), o);
  s.holder.Start(std::chrono::milliseconds(20));

  std::atomic<bool> done{false};
  std::atomic<int> failed{0}, answered{0}, neither{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      auto c = s.Client();
      while (!done.load()) {
        auto r = c.Post("/v2/models/m/infer", body, "application/json");
        if (!r || r->status != 200) {
          ++failed;
          continue;
        }
        const std::vector<float> p = Predictions(r->body);
        if (p != answer_a && p != answer_b) ++neither;
        ++answered;
      }
    });
  }
  const auto wait_for = [&](auto condition) {
    for (int i = 0; i < 3000 && !condition(); ++i) {
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    }
    return condition();
  };
  ASSERT_TRUE(wait_for([&] { return answered.load() > 20; }));
  // Training publishes a model by renaming a complete file over the old one.
  fs::copy_file(P("b.crank"), P("tmp.crank"));
  fs::rename(P("tmp.crank"), P("served.crank"));
  ASSERT_TRUE(wait_for([&] { return s.metrics.model_version() == 2; }));
  const int after_reload = answered.load();
  ASSERT_TRUE(wait_for([&] { return answered.load() > after_reload + 20; }));
  EXPECT_EQ(Predictions(s.server.Infer("m", body).body), answer_b);
  // A damaged replacement is refused; the answers stay model b's.
  const std::string bytes = ReadFile(P("b.crank"));
  WriteText(P("tmp.crank"), bytes.substr(0, bytes.size() - 100));
  fs::rename(P("tmp.crank"), P("served.crank"));
  ASSERT_TRUE(wait_for([&] { return s.metrics.reloads_failed() == 1; }));
  const int after_refusal = answered.load();
  ASSERT_TRUE(wait_for([&] { return answered.load() > after_refusal + 20; }));
  done = true;
  for (auto& t : clients) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(neither.load(), 0);
  EXPECT_EQ(s.metrics.model_version(), 2);
  EXPECT_EQ(Predictions(s.server.Infer("m", body).body), answer_b);
}

TEST_F(ServeCli, SigtermUnderLoadAnswersEveryAcceptedRequest) {
  Generate(2000, 20);
  ASSERT_EQ(
      Run("train --train " + P("train.tsv") + " --model-out " + P("m.crank") + SmallModel()).code,
      0);
  const std::string log = P("serve.log");
  int port = 0;
  const pid_t pid = StartServe(P("m.crank"), log, {"--max-queue-delay-us", "2000"}, &port);
  ASSERT_GT(pid, 0);
  ASSERT_GT(port, 0) << ReadFile(log);
  const std::string body = RowsBody(Lines(ReadFile(P("eval.tsv"))));
  std::atomic<int> ok{0}, refused{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  for (int t = 0; t < 8; ++t) {
    clients.emplace_back([&] {
      while (!stop.load()) {
        httplib::Client c("127.0.0.1", port);
        c.set_read_timeout(30, 0);
        auto r = c.Post("/v2/models/m/infer", body, "application/json");
        if (!r) {
          std::this_thread::sleep_for(std::chrono::milliseconds(1));
          continue;  // not accepted: the server had stopped listening
        }
        r->status == 200 ? ++ok : ++refused;
      }
    });
  }
  for (int i = 0; i < 500 && ok.load() < 50; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
  }
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  stop = true;
  for (auto& t : clients) t.join();
  ASSERT_TRUE(WIFEXITED(status)) << ReadFile(log);
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(log);
  EXPECT_EQ(refused.load(), 0);
  std::smatch m;
  const std::string text = ReadFile(log);
  ASSERT_TRUE(std::regex_search(
      text, m, std::regex("([0-9]+) infer requests received, ([0-9]+) answered with predictions")))
      << text;
  EXPECT_EQ(std::stoi(m[1]), std::stoi(m[2])) << text;
  EXPECT_EQ(std::stoi(m[2]), ok.load()) << text;  // every request read got its answer
  EXPECT_GE(ok.load(), 50);
}

TEST_F(ServeCli, SighupReloadsAndADamagedFileIsRefused) {
  Generate(2000, 5);
  ASSERT_EQ(
      Run("train --train " + P("train.tsv") + " --model-out " + P("a.crank") + SmallModel()).code,
      0);
  fs::copy_file(P("a.crank"), P("m.crank"));
  const std::string log = P("serve.log");
  int port = 0;
  const pid_t pid = StartServe(P("m.crank"), log, {"--watch-ms", "0"}, &port);
  ASSERT_GT(pid, 0);
  ASSERT_GT(port, 0) << ReadFile(log);
  httplib::Client c("127.0.0.1", port);
  const std::string body = RowsBody(Lines(ReadFile(P("eval.tsv"))));
  const auto before = c.Post("/v2/models/m/infer", body, "application/json");
  ASSERT_TRUE(before);
  ASSERT_EQ(before->status, 200);
  const std::string bytes = ReadFile(P("a.crank"));
  WriteText(P("tmp.crank"), bytes.substr(0, bytes.size() / 3));
  fs::rename(P("tmp.crank"), P("m.crank"));
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  EXPECT_TRUE(LogShows(log, "refused, the model loaded before keeps serving")) << ReadFile(log);
  auto r = c.Post("/v2/models/m/infer", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(Predictions(r->body), Predictions(before->body));
  EXPECT_NE(c.Get("/metrics")->body.find("crank_model_reloads{result=\"failure\"} 1"),
            std::string::npos);
  fs::copy_file(P("a.crank"), P("tmp.crank"));
  fs::rename(P("tmp.crank"), P("m.crank"));
  ASSERT_EQ(kill(pid, SIGHUP), 0);
  EXPECT_TRUE(LogShows(log, "(version 2)")) << ReadFile(log);
  r = c.Post("/v2/models/m/infer", body, "application/json");
  ASSERT_TRUE(r);
  EXPECT_NE(r->body.find("\"model_version\":\"2\""), std::string::npos) << r->body;
  ASSERT_EQ(kill(pid, SIGTERM), 0);
  int status = 0;
  ASSERT_EQ(waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0) << ReadFile(log);
}

}  // namespace
}  // namespace crank
