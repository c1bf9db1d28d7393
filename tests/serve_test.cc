// The inference server in process, on the tiny model of fuzz/tiny_model.h (delimited rows
// "x1,x2,a,b,y"): protocol, every error class, 10,000 mutated bodies, dynamic batching, the
// bounded queue, 16 client threads (run under ThreadSanitizer) and refused reloads.

#include <gtest/gtest.h>
#include <unistd.h>

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "crank/data/buffer_parser.h"
#include "crank/data/model_inputs.h"
#include "crank/io/load_model.h"
#include "serve_test_util.h"
#include "tiny_model.h"

namespace crank {
namespace {

namespace fs = std::filesystem;
using testing::Predictions;
using testing::RowsBody;
using testing::TestServer;

const std::vector<std::string> kRows = {"x1,x2,a,b,y", "1.5,2,p,u,1", "0,-1,q,v,0", ",3.25,r,,1",
                                        "7,8,zzz,w,0"};

class Serve : public ::testing::Test {
 protected:
  void SetUp() override {
    dir_ = fs::temp_directory_path() /
           ("crank_serve_test_" + std::to_string(getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
    model_ = (dir_ / "m.crank").string();
    fuzz::WriteTinyModelCheckpoint(model_);
  }
  void TearDown() override { fs::remove_all(dir_); }

  // The library's predictions for kRows (one batch, as `crank predict` reads a file).
  std::vector<float> Expected(const std::vector<std::string>& rows) const {
    LoadedModel m = LoadModel(model_);
    BufferParser parser(m.mapping);
    std::string text;
    for (const auto& r : rows) text += r + "\n";
    Batch batch;
    parser.Parse(text, &batch);
    Tensor pred;
    m.model->Predict(batch, &pred);
    return pred.ToVector();
  }

  fs::path dir_;
  std::string model_;
};

TEST_F(Serve, HealthMetadataAndPredictionsOverHttp) {
  TestServer s(model_);
  auto c = s.Client();
  auto r = c.Get("/v2/health/live");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 200);
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/m/ready")->status, 200);
  EXPECT_EQ(c.Get("/v2/models/other/ready")->status, 404);
  r = c.Get("/v2");
  EXPECT_EQ(nlohmann::json::parse(r->body)["name"], "crank");
  r = c.Get("/v2/models/m");
  ASSERT_EQ(r->status, 200);
  const auto meta = nlohmann::json::parse(r->body);
  EXPECT_EQ(meta["name"], "m");
  EXPECT_EQ(meta["inputs"][0]["name"], "rows");
  EXPECT_EQ(meta["inputs"][0]["datatype"], "BYTES");
  EXPECT_EQ(meta["outputs"][0]["name"], "predictions");
  EXPECT_EQ(meta["outputs"][0]["datatype"], "FP32");
  EXPECT_EQ(c.Get("/v2/models/other")->status, 404);
  EXPECT_EQ(c.Get("/nowhere")->status, 404);

  r = c.Post("/v2/models/m/infer", RowsBody(kRows, "req-7"), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  const auto j = nlohmann::json::parse(r->body);
  EXPECT_EQ(j["id"], "req-7");
  EXPECT_EQ(j["outputs"][0]["shape"][0], 4);
  EXPECT_EQ(Predictions(r->body), Expected(kRows));  // bit for bit

  // The header may come as a parameter instead of rows[0].
  nlohmann::json body = nlohmann::json::parse(RowsBody({kRows[1], kRows[2]}));
  body["parameters"] = {{"header", kRows[0]}};
  r = c.Post("/v2/models/m/infer", body.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Predictions(r->body), Expected({kRows[0], kRows[1], kRows[2]}));

  r = c.Get("/metrics");
  ASSERT_EQ(r->status, 200);
  EXPECT_NE(r->body.find("crank_inference_request_success 2"), std::string::npos) << r->body;
  EXPECT_NE(r->body.find("crank_inference_count 6"), std::string::npos);
  EXPECT_NE(r->body.find("crank_model_version 1"), std::string::npos);
  EXPECT_NE(r->body.find("crank_inference_batch_size_bucket"), std::string::npos);
}

TEST_F(Serve, TypedTensorsGiveTheSamePredictionsAsRows) {
  TestServer s(model_);
  auto c = s.Client();
  auto model = serve::ServedModel::Load(model_, 1, 1);
  serve::InferRequest rows_request;
  rows_request.has_rows = true;
  rows_request.rows.assign(kRows.begin(), kRows.end());
  Batch batch;
  model->MapInputs(rows_request, &batch);
  nlohmann::json body;
  body["inputs"] = ModelInputsToJson(BatchToModelInputs(batch, model->spec()));
  auto r = c.Post("/v2/models/m/infer", body.dump(), "application/json");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Predictions(r->body), Expected(kRows));
  // The metadata lists every typed input with its datatype and shape.
  const auto meta = nlohmann::json::parse(c.Get("/v2/models/m")->body);
  std::vector<std::string> names;
  for (const auto& in : meta["inputs"]) names.push_back(in["name"]);
  EXPECT_EQ(names, (std::vector<std::string>{"rows", "dense", "a", "b"}));
  EXPECT_EQ(meta["inputs"][1]["datatype"], "FP32");
  EXPECT_EQ(meta["inputs"][1]["shape"], nlohmann::json::parse("[-1, 2]"));
  EXPECT_EQ(meta["inputs"][2]["datatype"], "INT64");
}

TEST_F(Serve, NotReadyUntilTheModelLoads) {
  TestServer s(model_, {}, /*load=*/false);
  auto c = s.Client();
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 503);
  auto r = c.Post("/v2/models/m/infer", RowsBody(kRows), "application/json");
  EXPECT_EQ(r->status, 503);
  EXPECT_NE(r->body.find("not ready"), std::string::npos);
  s.holder.LoadInitial();
  EXPECT_EQ(c.Get("/v2/health/ready")->status, 200);
  EXPECT_EQ(c.Post("/v2/models/m/infer", RowsBody(kRows), "application/json")->status, 200);
}

struct BadCase {
  std::string body;
  int status;
  std::string message;  // part of the error
};

TEST_F(Serve, EveryErrorClassGetsItsStatusAndNamesTheField) {
  serve::ServerOptions o;
  o.limits.max_rows = 10;
  TestServer s(model_, o);
  const std::string rows_in = R"({"inputs":[{"name":"rows","datatype":"BYTES",)";
  const std::vector<BadCase> cases = {
      {"{not json", 400, "malformed JSON"},
      {"", 400, "malformed JSON"},
      {"[1,2]", 400, "must be a JSON object"},
      {"{}", 400, "inputs: missing"},
      {R"({"inputs":[]})", 400, "inputs: empty"},
      {R"({"inputs":{}})", 400, "inputs: expected an array"},
      {R"({"inputs":[{"datatype":"BYTES"}]})", 400, "inputs[0].name: missing"},
      {R"({"inputs":[{"name":"rows","datatype":"INT64","shape":[1],"data":[1]}]})", 400,
       "inputs[0].datatype"},
      {rows_in + R"("shape":[3],"data":["a"]}]})", 400, "inputs[0].shape: [3] does not match"},
      {rows_in + R"("shape":[1e300],"data":["a"]}]})", 400, "inputs[0].shape[0]"},
      {rows_in + R"("shape":[18446744073709551615],"data":["a"]}]})", 400, "too large"},
      {rows_in + R"("shape":[-1],"data":["a"]}]})", 400, "non-negative integer"},
      {rows_in + R"("shape":[0],"data":[]}]})", 400, "no rows"},
      {rows_in + R"("shape":[2],"data":["x1,x2,a,b,y", 5]}]})", 400, "rows[1]: expected a string"},
      {rows_in + R"("shape":[1],"data":["x1,x2,a,b,y"]}]})", 400, "no data rows"},
      {rows_in + R"("shape":[2],"data":["x1,x2,a,b,y","1,2,p"]}]})", 400,
       "rows[1]: expected 5 columns"},
      {rows_in + R"("shape":[3],"data":["x1,x2,a,b,y","1,2,p,u,1","nan?,2,p,u,1"]}]})", 400,
       "rows[2]: field x1"},
      {rows_in + R"("shape":[3],"data":["x1,x2,a,b,y","1,2,p,u,1","1,2,p,u,7"]}]})", 400,
       "rows[2]: field y"},
      {rows_in + R"("shape":[2],"data":["x1,x2,b,y","1,2,u,1"]}]})", 400, "header"},
      {rows_in + R"("shape":[2],"data":["x1,x2,a,b,y","1,2,p,u,1\n3,4,q,v,0"]}]})", 400,
       "rows[1]: holds a line break"},
      {rows_in + R"("shape":[2],"data":["x1,x2,a,b,y","   "]}]})", 400, "rows[1]: empty row"},
      {rows_in + R"("shape":[11],"data":["a","a","a","a","a","a","a","a","a","a","a"]}]})", 400,
       "more than the limit of 10"},
      {R"({"inputs":[{"name":"rows","datatype":"BYTES","shape":[2],"data":["x1,x2,a,b,y","1,2,p,u,1"]}],"outputs":[{"name":"scores"}]})",
       400, "outputs[0].name: unknown output"},
      {R"({"id":5,"inputs":[]})", 400, "id: expected a string"},
      {std::string(100, '[') + std::string(100, ']'), 400, "nested deeper"},
      {R"({"inputs":[{"name":"dense","datatype":"FP32","shape":[1,2],"data":[1,2]}]})", 400, "'a'"},
      {R"({"inputs":[{"name":"dense","datatype":"INT64","shape":[1,2],"data":[1,2]},{"name":"a","datatype":"INT64","shape":[1],"data":[1]},{"name":"b","datatype":"INT64","shape":[1],"data":[1]}]})",
       400, "dense"},
      {R"({"inputs":[{"name":"dense","datatype":"FP32","shape":[1,2],"data":[1,2]},{"name":"a","datatype":"INT64","shape":[2],"data":[1]},{"name":"b","datatype":"INT64","shape":[1],"data":[1]}]})",
       400, "inputs[1]"},
      {R"({"inputs":[{"name":"dense","datatype":"FP32","shape":[1,2],"data":[1,2]},{"name":"a","datatype":"INT64","shape":[1],"data":[99]},{"name":"b","datatype":"INT64","shape":[1],"data":[1]}]})",
       400, "'a'"},
      {R"({"inputs":[{"name":"dense","datatype":"FP32","shape":[1,2],"data":[1,1e999]},{"name":"a","datatype":"INT64","shape":[1],"data":[1]},{"name":"b","datatype":"INT64","shape":[1],"data":[1]}]})",
       400, "malformed JSON"},
      {R"({"inputs":[{"name":"dense","datatype":"FP32","shape":[1,2],"data":[1,2]},{"name":"a","datatype":"INT64","shape":[1],"data":[1.5]},{"name":"b","datatype":"INT64","shape":[1],"data":[1]}]})",
       400, "inputs[1]"},
  };
  auto c = s.Client();
  for (const BadCase& k : cases) {
    auto r = c.Post("/v2/models/m/infer", k.body, "application/json");
    ASSERT_TRUE(r) << k.body;
    EXPECT_EQ(r->status, k.status) << k.body << " -> " << r->body;
    const auto j = nlohmann::json::parse(r->body, nullptr, false);
    ASSERT_TRUE(j.is_object() && j.contains("error")) << r->body;
    EXPECT_NE(j["error"].get<std::string>().find(k.message), std::string::npos)
        << k.body << " -> " << r->body;
  }
  auto r = c.Post("/v2/models/nope/infer", RowsBody(kRows), "application/json");
  EXPECT_EQ(r->status, 404);
  EXPECT_NE(r->body.find("unknown model 'nope'"), std::string::npos);
  EXPECT_EQ(s.metrics.failures("bad_input"), static_cast<int64_t>(cases.size()));
  EXPECT_EQ(s.metrics.failures("not_found"), 1);
  // The server still answers good requests with the right predictions.
  r = c.Post("/v2/models/m/infer", RowsBody(kRows), "application/json");
  ASSERT_EQ(r->status, 200);
  EXPECT_EQ(Predictions(r->body), Expected(kRows));
}

TEST_F(Serve, BodyOverTheLimitIs413) {
  serve::ServerOptions o;
  o.max_body_bytes = 1000;
  TestServer s(model_, o);
  auto c = s.Client();
  std::vector<std::string> rows = {kRows[0]};
  for (int i = 0; i < 100; ++i) rows.push_back(kRows[1]);
  auto r = c.Post("/v2/models/m/infer", RowsBody(rows), "application/json");
  ASSERT_TRUE(r);
  EXPECT_EQ(r->status, 413);
  EXPECT_NE(r->body.find("too large"), std::string::npos) << r->body;
  EXPECT_EQ(c.Post("/v2/models/m/infer", RowsBody(kRows), "application/json")->status, 200);
}

// `curl -d @body.json` without -H sends application/x-www-form-urlencoded: the body is still
// the protocol's JSON, above the 8 KB a form body may have in httplib, and gets its answer.
TEST_F(Serve, ABodySentAsAFormIsReadAsJson) {
  TestServer s(model_);
  auto c = s.Client();
  std::vector<std::string> rows = {kRows[0]};
  for (int i = 0; i < 1000; ++i) rows.push_back(kRows[1 + i % 4]);
  const std::string body = RowsBody(rows);
  ASSERT_GT(body.size(), 8192u);
  auto r = c.Post("/v2/models/m/infer", body, "application/x-www-form-urlencoded");
  ASSERT_TRUE(r);
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Predictions(r->body), Expected(rows));
  r = c.Post("/v2/models/m/infer", RowsBody(kRows), "application/x-www-form-urlencoded");
  ASSERT_EQ(r->status, 200) << r->body;
  EXPECT_EQ(Predictions(r->body), Expected(kRows));
}

TEST_F(Serve, TenThousandMutatedBodiesGetAnAnswerAndNoCrash) {
  TestServer s(model_);
  const std::string valid = RowsBody(kRows, "id");
  const std::vector<std::string> pieces = {
      "{",    "}",        "[",         "]",         ",",  ":",
      "\"",   "\\",       "\\u0000",   "1e999",     "-1", "18446744073709551616",
      "null", "\"rows\"", "\"BYTES\"", "\"shape\"", "\n", "\t",
      "\xff", "0.5",      "true"};
  std::mt19937_64 rng(11);
  int ok = 0, bad = 0;
  for (int i = 0; i < 10000; ++i) {
    std::string b = valid;
    const int edits = 1 + static_cast<int>(rng() % 4);
    for (int e = 0; e < edits && !b.empty(); ++e) {
      const size_t at = rng() % b.size();
      switch (rng() % 5) {
        case 0:
          b[at] = static_cast<char>(rng() & 0xff);
          break;
        case 1:
          b.erase(at, 1 + rng() % 8);
          break;
        case 2:
          b.insert(at, pieces[rng() % pieces.size()]);
          break;
        case 3:
          b.resize(at);
          break;
        default:
          b.insert(at, b.substr(rng() % b.size(), rng() % 16));
      }
    }
    const serve::Reply r = s.server.Infer("m", b);
    ASSERT_TRUE(r.status == 200 || r.status == 400) << r.status << " for " << b;
    const auto j = nlohmann::json::parse(r.body, nullptr, false);
    ASSERT_FALSE(j.is_discarded()) << r.body;
    (r.status == 200 ? ok : bad)++;
  }
  EXPECT_GT(bad, 5000);
  const serve::Reply r = s.server.Infer("m", valid);
  ASSERT_EQ(r.status, 200);
  EXPECT_EQ(Predictions(r.body), Expected(kRows));
}

// The batch of the rows of `rows` (a header line first) as the server maps them.
Batch MapRows(const serve::ServedModel& model, const std::vector<std::string>& rows) {
  serve::InferRequest r;
  r.has_rows = true;
  r.rows.assign(rows.begin(), rows.end());
  Batch b;
  model.MapInputs(r, &b);
  return b;
}

TEST_F(Serve, ConcurrentRequestsAreMergedAndEachGetsItsOwnRows) {
  auto model = serve::ServedModel::Load(model_, 1, 1);
  serve::ServeMetrics metrics;
  serve::BatcherOptions o;
  o.workers = 1;
  o.max_batch = 8;
  o.max_queue_delay_us = 100'000'000;  // the pass starts when 8 rows are queued
  serve::DynamicBatcher batcher(o, &metrics);
  const std::vector<std::string> data = {"1.5,2,p,u,1", "0,-1,q,v,0", ",3.25,r,,1",   "7,8,zzz,w,0",
                                         "2,2,p,v,1",   "3,1,q,u,0",  "-4,0.5,r,w,1", "9,9,s,x,0"};
  std::vector<Batch> batches;
  std::vector<std::unique_ptr<serve::DynamicBatcher::Arrival>> arrivals;
  for (const auto& row : data) {
    batches.push_back(MapRows(*model, {kRows[0], row}));
    arrivals.push_back(std::make_unique<serve::DynamicBatcher::Arrival>(&batcher));
  }
  std::vector<Tensor> got(8);
  std::vector<std::thread> clients;
  for (int i = 0; i < 8; ++i) {
    clients.emplace_back([&, i] { batcher.Infer(model, batches[i], &got[i], arrivals[i].get()); });
  }
  for (auto& t : clients) t.join();
  std::vector<std::string> all = {kRows[0]};
  all.insert(all.end(), data.begin(), data.end());
  const std::vector<float> merged = Expected(all);
  for (int i = 0; i < 8; ++i) {
    ASSERT_EQ(got[i].size(), 1) << i;
    EXPECT_EQ(got[i][0], merged[i]) << i;  // the rows of one pass of 8: the same bits
  }
  const std::string m = metrics.Render();
  EXPECT_NE(m.find("crank_inference_exec_count 1\n"), std::string::npos) << m;
  EXPECT_NE(m.find("crank_inference_count 8\n"), std::string::npos) << m;
}

TEST_F(Serve, LoneRequestDoesNotWaitForTheQueueDelay) {
  serve::ServerOptions o;
  o.batcher.max_queue_delay_us = 100'000'000;  // would time the test out if waited for
  TestServer s(model_, o);
  auto c = s.Client();
  for (int i = 0; i < 3; ++i) {
    auto r = c.Post("/v2/models/m/infer", RowsBody(kRows), "application/json");
    ASSERT_TRUE(r);
    EXPECT_EQ(r->status, 200);
  }
}

TEST_F(Serve, FullQueueAnswers503) {
  auto model = serve::ServedModel::Load(model_, 1, 1);
  serve::ServeMetrics metrics;
  serve::BatcherOptions o;
  o.workers = 1;
  o.max_batch = 1000;
  o.max_queue_delay_us = 100'000'000;
  o.max_queued_requests = 1;
  serve::DynamicBatcher batcher(o, &metrics);
  const Batch batch = MapRows(*model, kRows);
  // A request on its way keeps the first one waiting in the queue.
  auto coming = std::make_unique<serve::DynamicBatcher::Arrival>(&batcher);
  Tensor first_out;
  std::atomic<bool> first_done{false};
  std::thread first([&] {
    batcher.Infer(model, batch, &first_out);
    first_done = true;
  });
  while (batcher.queued() < 1) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  Tensor out;
  bool refused = false;
  try {
    batcher.Infer(model, batch, &out);
  } catch (const serve::RequestError& e) {
    EXPECT_EQ(e.status(), 503);
    EXPECT_NE(std::string(e.what()).find("overloaded"), std::string::npos) << e.what();
    refused = true;
  }
  EXPECT_TRUE(refused);
  EXPECT_FALSE(first_done.load());
  coming.reset();  // nothing more is coming: the first request runs
  first.join();
  EXPECT_EQ(first_out.ToVector(), Expected(kRows));
}

// Without batching every request is its own forward pass: 4 callers share the one worker of
// the batcher, each getting its own rows.
TEST_F(Serve, WithoutBatchingFourThreadsShareOneWorker) {
  auto model = serve::ServedModel::Load(model_, 1, 1);
  serve::ServeMetrics metrics;
  serve::BatcherOptions o;
  o.workers = 1;
  o.max_batch = 0;
  serve::DynamicBatcher batcher(o, &metrics);
  const std::vector<std::vector<std::string>> requests = {
      kRows, {kRows[0], kRows[1]}, {kRows[0], kRows[2], kRows[3]}, {kRows[0], kRows[3]}};
  std::vector<Batch> batches;
  std::vector<std::vector<float>> expected;
  for (const auto& r : requests) {
    batches.push_back(MapRows(*model, r));
    expected.push_back(Expected(r));
  }
  std::vector<std::thread> clients;
  std::atomic<int> wrong{0};
  for (size_t c = 0; c < requests.size(); ++c) {
    clients.emplace_back([&, c] {
      for (int i = 0; i < 25; ++i) {
        Tensor out;
        batcher.Infer(model, batches[c], &out);
        if (out.ToVector() != expected[c]) ++wrong;
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  const std::string m = metrics.Render();
  EXPECT_NE(m.find("crank_inference_exec_count 100\n"), std::string::npos) << m;
}

TEST_F(Serve, SixteenClientThreadsMixGoodAndBadRequests) {
  serve::ServerOptions o;
  o.http_threads = 16;
  o.batcher.workers = 2;
  o.batcher.max_queue_delay_us = 200;
  TestServer s(model_, o);
  const std::vector<float> expected = Expected(kRows);
  std::atomic<int> wrong{0}, good{0}, refused{0}, resent{0};
  std::vector<std::thread> clients;
  for (int t = 0; t < 16; ++t) {
    clients.emplace_back([&, t] {
      auto c = s.Client();
      for (int i = 0; i < 25; ++i) {
        const bool bad = (t + i) % 3 == 0;
        const std::string body = bad ? RowsBody({kRows[0], "1,2,p"}) : RowsBody(kRows);
        auto r = c.Post("/v2/models/m/infer", body, "application/json");
        if (!r) {
          // A connection that failed before any answer (on a loaded test machine, 16 clients
          // connecting at once) is sent again once, as an HTTP client would; a request that
          // got an answer is never resent.
          ++resent;
          r = c.Post("/v2/models/m/infer", body, "application/json");
        }
        if (!r) {
          ++wrong;
        } else if (bad) {
          r->status == 400 ? ++refused : ++wrong;
        } else if (r->status != 200 || Predictions(r->body).size() != expected.size()) {
          ++wrong;
        } else {
          ++good;
        }
      }
    });
  }
  for (auto& t : clients) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_LE(resent.load(), 4);  // rare connection failures only
  EXPECT_EQ(good.load() + refused.load(), 16 * 25);
  EXPECT_EQ(s.metrics.success(), good.load());
  EXPECT_EQ(s.metrics.failures("bad_input"), refused.load());
}

TEST_F(Serve, DamagedReplacementIsRefusedAndTheOldModelKeepsServing) {
  TestServer s(model_);
  const std::vector<float> before = Predictions(s.server.Infer("m", RowsBody(kRows)).body);
  ASSERT_EQ(before, Expected(kRows));
  // A truncated model replaces the file atomically.
  const std::string bytes = testing::ReadFileBytes(model_);
  const std::string tmp = (dir_ / "tmp.crank").string();
  std::ofstream(tmp, std::ios::binary) << bytes.substr(0, bytes.size() / 2);
  fs::rename(tmp, model_);
  EXPECT_FALSE(s.holder.Reload());
  EXPECT_EQ(s.metrics.reloads_failed(), 1);
  EXPECT_EQ(s.metrics.model_version(), 1);
  EXPECT_NE(s.metrics.Render().find("crank_model_reloads{result=\"failure\"} 1"),
            std::string::npos);
  EXPECT_EQ(Predictions(s.server.Infer("m", RowsBody(kRows)).body), before);
  // A good file loads as version 2.
  std::ofstream(tmp, std::ios::binary) << bytes;
  fs::rename(tmp, model_);
  EXPECT_TRUE(s.holder.Reload());
  EXPECT_EQ(s.metrics.model_version(), 2);
  const serve::Reply r = s.server.Infer("m", RowsBody(kRows));
  EXPECT_NE(r.body.find("\"model_version\":\"2\""), std::string::npos) << r.body;
}

}  // namespace
}  // namespace crank
