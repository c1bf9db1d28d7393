// The exported ONNX graph run by a real runtime: ONNX Runtime (onnxruntime-node, installed by
// `make test` into <build>/onnxruntime-node) against crank's own Predict, and the ONNX checker
// (Debian's python3-onnx). Without node, the runtime or the checker the tests skip, naming what
// is missing. CTest label "onnxruntime" (left out of the sanitizer presets).

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "crank/base/rng.h"
#include "crank/data/model_inputs.h"
#include "crank/export/onnx_export.h"
#include "crank/model/ranking.h"
#include "crank/model/ranking_config.h"
#include "feature_sets_data.h"
#include "movielens_data.h"

namespace crank::testing {
namespace {

const std::string kNodeModules = std::string(CRANK_BINARY_DIR) + "/onnxruntime-node/node_modules";
const std::string kPython = "/usr/bin/python3";

// Empty when ONNX Runtime can run; else why not.
std::string RuntimeMissing() {
  if (std::system("command -v node >/dev/null 2>&1") != 0) {
    return "node is not installed (make test installs Debian's npm, which brings nodejs)";
  }
  if (!fs::exists(kNodeModules + "/onnxruntime-node/package.json")) {
    return "onnxruntime-node is not installed in " + kNodeModules +
           " (make test runs: npm install --ignore-scripts onnxruntime-node there)";
  }
  return "";
}

std::string CheckerMissing() {
  const std::string cmd = kPython + " -c 'import onnx.checker' >/dev/null 2>&1";
  if (std::system(cmd.c_str()) != 0) {
    return "the ONNX checker is not installed (Debian package python3-onnx, for " + kPython + ")";
  }
  return "";
}

#define SKIP_WITHOUT_RUNTIME()                    \
  do {                                            \
    const std::string missing = RuntimeMissing(); \
    if (missing.empty()) break;                   \
    GTEST_SKIP() << missing;                      \
  } while (0)

#define SKIP_WITHOUT_CHECKER()                    \
  do {                                            \
    const std::string missing = CheckerMissing(); \
    if (missing.empty()) break;                   \
    GTEST_SKIP() << missing;                      \
  } while (0)

// onnx.checker.check_model(path, full_check=True): "" when it passes, else its output.
std::string CheckModel(const std::string& path, const std::string& log) {
  const std::string cmd = kPython +
                          " -c 'import onnx, sys; onnx.checker.check_model(sys.argv[1], "
                          "full_check=True)' " +
                          path + " >" + log + " 2>&1";
  return std::system(cmd.c_str()) == 0 ? "" : ReadFile(log) + " (checker failed)";
}

// Runs tests/onnx/ort_predict.js; returns the predictions, or fails the test.
std::vector<float> RunOrt(const std::string& model, const std::string& request,
                          const std::string& out, int threads = 1) {
  const std::string log = out + ".log";
  const std::string cmd = "NODE_PATH=" + kNodeModules + " node " + CRANK_SOURCE_DIR +
                          "/tests/onnx/ort_predict.js " + model + " " + request + " " + out + " " +
                          std::to_string(threads) + " >" + log + " 2>&1";
  const int status = std::system(cmd.c_str());
  EXPECT_EQ(status, 0) << ReadFile(log);
  std::vector<float> p;
  std::ifstream in(out);
  for (float v; in >> v;) p.push_back(v);
  return p;
}

std::vector<float> ReadPredictions(const std::string& path, size_t limit = SIZE_MAX) {
  std::vector<float> p;
  std::ifstream in(path);
  for (float v; p.size() < limit && in >> v;) p.push_back(v);
  return p;
}

double MaxAbsDiff(const std::vector<float>& a, const std::vector<float>& b) {
  EXPECT_EQ(a.size(), b.size());
  double m = 0;
  for (size_t i = 0; i < std::min(a.size(), b.size()); ++i) {
    m = std::max(m, std::abs(static_cast<double>(a[i]) - b[i]));
  }
  return m;
}

// Area under the ROC curve of scores for labels > threshold (ties count one half).
double Auc(const std::vector<float>& scores, const std::vector<float>& labels, float threshold) {
  std::vector<size_t> order(scores.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = i;
  std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return scores[a] < scores[b]; });
  double pos = 0, neg = 0, rank_sum = 0;
  for (size_t i = 0; i < order.size();) {
    size_t j = i;
    while (j < order.size() && scores[order[j]] == scores[order[i]]) ++j;
    const double mid = (static_cast<double>(i) + static_cast<double>(j) + 1) / 2;  // 1-based
    for (size_t k = i; k < j; ++k) {
      if (labels[order[k]] > threshold) {
        rank_sum += mid;
        ++pos;
      } else {
        ++neg;
      }
    }
    i = j;
  }
  return (rank_sum - pos * (pos + 1) / 2) / (pos * neg);
}

std::string Fixed4(double v) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%.4f", v);
  return buf;
}

// ---------------------------------------------------------------------------------------------
// Every block variant, on models built in the test (random weights) and batches with empty
// bags, per-id weights, shared tables and batch size 1.

struct Variant {
  std::string name;
  Interaction interaction = Interaction::kDot;
  bool self_interaction = false, skip_gather = false;
  std::optional<int64_t> projection;
  int cross_layers = 1;
  float diag_scale = 0;
  bool cross_bias = true;
  Pooling pooling = Pooling::kMean;
  bool weighted = false;
  bool concat_dense = true;
  bool linear_output = false;
};

// Test names and failure messages show the variant's name.
void PrintTo(const Variant& v, std::ostream* os) { *os << v.name; }

// Dense x0..x2; "a" single-hot (vocabulary 50); "b" and "c" multi-hot sharing table "bags"
// (vocabulary 30). Embedding dim 4.
DataSpec VariantSpec() {
  DataSpec spec;
  spec.dense = {"x0", "x1", "x2"};
  spec.sparse = {{.name = "a", .vocabulary_size = 50, .multi_hot = false},
                 {.name = "b", .vocabulary_size = 30, .multi_hot = true},
                 {.name = "c", .vocabulary_size = 30, .multi_hot = true}};
  return spec;
}

RankingConfig VariantConfig(const Variant& v) {
  RankingConfig c;
  c.dense_features = 3;
  c.tables = {{.name = "a", .vocabulary_size = 50, .dim = 4},
              {.name = "bags", .vocabulary_size = 30, .dim = 4}};
  c.features = {{.name = "a", .table = "a"},
                {.name = "b", .table = "bags", .pooling = v.pooling},
                {.name = "c", .table = "bags", .pooling = v.pooling}};
  c.bottom = {8, 4};
  c.top = {16, 1};
  c.interaction = v.interaction;
  c.dot_self_interaction = v.self_interaction;
  c.dot_skip_gather = v.skip_gather;
  c.cross_projection_dim = v.projection;
  c.cross_layers = v.cross_layers;
  c.cross_diag_scale = v.diag_scale;
  c.cross_use_bias = v.cross_bias;
  c.concat_dense = v.concat_dense;
  if (v.linear_output) {
    c.loss = LossKind::kMeanSquaredError;
    c.output_activation = OutputActivation::kLinear;
  }
  c.seed = 5;
  return c;
}

Batch VariantBatch(int64_t size, bool weighted, uint64_t seed) {
  Rng rng(seed);
  Batch b;
  b.dense.Resize({size, 3});
  for (int64_t i = 0; i < size * 3; ++i) b.dense[i] = static_cast<float>(rng.Normal());
  b.sparse.resize(3);
  for (SparseFeature& s : b.sparse) s.Clear();
  for (int64_t i = 0; i < size; ++i) {
    b.sparse[0].ids.push_back(static_cast<int64_t>(rng.UniformInt(50)));
    b.sparse[0].offsets.push_back(i + 1);
    for (size_t f = 1; f < 3; ++f) {
      SparseFeature& s = b.sparse[f];
      const int64_t n = static_cast<int64_t>(rng.UniformInt(f == 1 ? 4 : 6));  // 0 = empty bag
      for (int64_t k = 0; k < n; ++k) {
        s.ids.push_back(static_cast<int64_t>(rng.UniformInt(30)));
        // Weights in [0, 2), some exactly 0 (a bag of zero weights pools to zeros).
        if (weighted) s.weights.push_back(rng.UniformInt(8) == 0 ? 0.0f : 2 * rng.UniformFloat());
      }
      s.offsets.push_back(static_cast<int64_t>(s.ids.size()));
    }
  }
  return b;
}

class OnnxRuntimeVariants : public CliFixture, public ::testing::WithParamInterface<Variant> {};

TEST_P(OnnxRuntimeVariants, MatchesPredict) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  const Variant& v = GetParam();
  Ranking model(VariantConfig(v));
  OnnxExportOptions options;
  options.weighted_ids = v.weighted;
  ExportOnnx(model, VariantSpec(), P("m.onnx"), options);
  EXPECT_EQ(CheckModel(P("m.onnx"), P("checker.log")), "");
  for (const int64_t size : {1, 300}) {
    const Batch batch = VariantBatch(size, v.weighted, 17 + static_cast<uint64_t>(size));
    Tensor expected;
    model.Predict(batch, &expected);
    nlohmann::json body;
    body["inputs"] = ModelInputsToJson(BatchToModelInputs(batch, VariantSpec()));
    { std::ofstream(P("request.json")) << body.dump(); }
    const std::vector<float> got = RunOrt(P("m.onnx"), P("request.json"), P("ort.txt"));
    ASSERT_EQ(static_cast<int64_t>(got.size()), size);
    EXPECT_LE(MaxAbsDiff(expected.ToVector(), got), 1e-5) << v.name << ", batch " << size;
  }
}

INSTANTIATE_TEST_SUITE_P(
    Blocks, OnnxRuntimeVariants,
    ::testing::Values(
        Variant{.name = "dot_mean"},
        Variant{.name = "dot_self_sum", .self_interaction = true, .pooling = Pooling::kSum},
        Variant{.name = "dot_skip_gather_sqrtn", .skip_gather = true, .pooling = Pooling::kSqrtn},
        Variant{.name = "dot_self_skip_gather_weighted_mean",
                .self_interaction = true,
                .skip_gather = true,
                .weighted = true},
        Variant{.name = "cross_full_weighted_sqrtn",
                .interaction = Interaction::kCross,
                .cross_layers = 2,
                .pooling = Pooling::kSqrtn,
                .weighted = true},
        Variant{.name = "cross_low_rank_diag_no_bias_weighted_sum",
                .interaction = Interaction::kCross,
                .projection = 3,
                .cross_layers = 3,
                .diag_scale = 0.5f,
                .cross_bias = false,
                .pooling = Pooling::kSum,
                .weighted = true},
        Variant{.name = "concat_no_concat_dense_linear",
                .interaction = Interaction::kConcat,
                .concat_dense = false,
                .linear_output = true}),
    [](const ::testing::TestParamInfo<Variant>& info) { return info.param.name; });

// ---------------------------------------------------------------------------------------------
// The acceptance runs through the CLI: crank predict on 2,000 rows against ONNX Runtime
// on crank map of the same rows.

class OnnxRuntimeCli : public CliFixture {
 protected:
  // Exports m.crank, checks it, maps `data` (first `rows` rows), runs ONNX Runtime and compares
  // with predict.txt (crank predict on the same file).
  void CompareWithPredict(const std::string& data, int rows, const std::vector<float>& labels,
                          float positive_above) {
    Result r = Run("export --model " + P("m.crank") + " --format onnx --out " + P("m.onnx") +
                   " --opset 17");
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_EQ(CheckModel(P("m.onnx"), P("checker.log")), "");
    r = Run("map --model " + P("m.crank") + " --data " + data + " --out " + P("request.json") +
            " --rows " + std::to_string(rows));
    ASSERT_EQ(r.code, 0) << r.err;
    // fp32 GEMMs whatever the model was trained in: the graph computes in fp32 (a model trained
    // under auto at batch 512-4096 on a bf16 CPU predicts in bf16 by default).
    r = Run("predict --model " + P("m.crank") + " --data " + data + " --out " + P("predict.txt") +
            " --threads 1 --precision fp32");
    ASSERT_EQ(r.code, 0) << r.err;
    const std::vector<float> crank = ReadPredictions(P("predict.txt"), static_cast<size_t>(rows));
    const std::vector<float> ort = RunOrt(P("m.onnx"), P("request.json"), P("ort.txt"));
    ASSERT_EQ(crank.size(), static_cast<size_t>(rows));
    ASSERT_EQ(ort.size(), static_cast<size_t>(rows));
    const double diff = MaxAbsDiff(crank, ort);
    EXPECT_LE(diff, 1e-5);
    ASSERT_GE(labels.size(), static_cast<size_t>(rows));
    const std::vector<float> y(labels.begin(), labels.begin() + rows);
    const double auc_crank = Auc(crank, y, positive_above), auc_ort = Auc(ort, y, positive_above);
    std::printf("%d rows: max |crank - onnxruntime| = %.3g, AUC crank %.6f, onnxruntime %.6f\n",
                rows, diff, auc_crank, auc_ort);
    EXPECT_EQ(Fixed4(auc_crank), Fixed4(auc_ort));
    EXPECT_GT(auc_crank, 0.52);  // a trained model (0.55 to 0.85 here), not noise
  }

  std::vector<float> CriteoLabels(const std::string& path) {
    std::vector<float> y;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) y.push_back(std::stof(line.substr(0, 1)));
    return y;
  }
};

TEST_F(OnnxRuntimeCli, ExternalDataLoadsInOnnxRuntime) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  const Variant v{.name = "external"};
  Ranking model(VariantConfig(v));
  OnnxExportOptions options;
  options.inline_limit_bytes = 256;
  const OnnxExportResult r = ExportOnnx(model, VariantSpec(), P("m.onnx"), options);
  ASSERT_FALSE(r.external.empty());
  EXPECT_EQ(CheckModel(P("m.onnx"), P("checker.log")), "");
  const Batch batch = VariantBatch(64, false, 3);
  Tensor expected;
  model.Predict(batch, &expected);
  nlohmann::json body;
  body["inputs"] = ModelInputsToJson(BatchToModelInputs(batch, VariantSpec()));
  { std::ofstream(P("request.json")) << body.dump(); }
  EXPECT_LE(MaxAbsDiff(expected.ToVector(), RunOrt(P("m.onnx"), P("request.json"), P("o.txt"))),
            1e-5);
}

TEST_F(OnnxRuntimeCli, DlrmDotMatchesPredictOn2000Rows) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  Generate(8000, 2000);
  const Result r =
      Run("train -q --train " + P("train.tsv") + " --model-out " + P("m.crank") + SmallModel());
  ASSERT_EQ(r.code, 0) << r.err;
  CompareWithPredict(P("eval.tsv"), 2000, CriteoLabels(P("eval.tsv")), 0.5f);
}

// Tables stored in 16 bits: fp16 as FLOAT16 initializers with a Cast, bf16 widened to FLOAT.
TEST_F(OnnxRuntimeCli, SixteenBitTablesMatchPredictOn2000Rows) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  Generate(8000, 2000);
  for (const char* precision : {"fp16", "bf16"}) {
    SCOPED_TRACE(precision);
    const Result r = Run("train -q --train " + P("train.tsv") + " --model-out " + P("m.crank") +
                         SmallModel() + " --embedding-precision " + precision);
    ASSERT_EQ(r.code, 0) << r.err;
    CompareWithPredict(P("eval.tsv"), 2000, CriteoLabels(P("eval.tsv")), 0.5f);
  }
}

TEST_F(OnnxRuntimeCli, DcnLowRankCrossMatchesPredictOn2000Rows) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  Generate(8000, 2000);
  {
    std::ofstream(P("dcn.yaml"))
        << "model:\n  interaction: cross\n  cross: {layers: 2, projection_dim: 8}\n";
  }
  const Result r = Run("train -q --config " + P("dcn.yaml") + " --train " + P("train.tsv") +
                       " --model-out " + P("m.crank") + SmallModel());
  ASSERT_EQ(r.code, 0) << r.err;
  CompareWithPredict(P("eval.tsv"), 2000, CriteoLabels(P("eval.tsv")), 0.5f);
}

TEST_F(OnnxRuntimeCli, MultiHotMovieLensLikeMatchesPredictOn2000Rows) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  const SyntheticMovieLens data = WriteSyntheticMovieLens(
      dir_ / "movielens", std::string(CRANK_SOURCE_DIR) + "/examples/movielens.yaml");
  const Result r =
      Run("train -q --config " + data.config.string() + " --model-out " + P("m.crank") +
          " --epochs 1 --embedding-dim 8 --bottom 16,8 --top 16,1 --pooling sqrtn "
          "--threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  // Ratings (third column of ratings.csv); AUC of "4 stars or more".
  std::vector<float> ratings;
  std::ifstream in(data.ratings);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream s(line);
    std::string user, movie, rating;
    std::getline(s, user, ',');
    std::getline(s, movie, ',');
    std::getline(s, rating, ',');
    ratings.push_back(std::stof(rating));
  }
  CompareWithPredict(data.ratings.string(), 2000, ratings, 3.75f);
}

// Models without dense features (no `dense` input, no bottom stack) and without sparse ones (no
// interaction), trained through the CLI on generated files (tests/feature_sets_data.h).

TEST_F(OnnxRuntimeCli, CategoricalOnlyDotAndCrossMatchPredict) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  WriteCategoricalOnly(P("train.csv"), 4000, 11);
  const std::vector<float> labels = WriteCategoricalOnly(P("eval.csv"), 1000, 12);
  for (const std::string interaction : {"dot", "cross"}) {
    std::ofstream(P("config.yaml"))
        << CategoricalOnlyConfig("  bottom: []\n  interaction: " + interaction + "\n");
    const Result r = Run("train -q --config " + P("config.yaml") + " --train " + P("train.csv") +
                         " --model-out " + P("m.crank"));
    ASSERT_EQ(r.code, 0) << r.err;
    CompareWithPredict(P("eval.csv"), 1000, labels, 0.5f);
    const auto request = nlohmann::json::parse(ReadFile(P("request.json")));
    for (const auto& in : request["inputs"]) EXPECT_NE(in["name"], "dense") << interaction;
  }
}

TEST_F(OnnxRuntimeCli, DenseOnlyMatchesPredict) {
  SKIP_WITHOUT_RUNTIME();
  SKIP_WITHOUT_CHECKER();
  WriteDenseOnly(P("train.csv"), 4000, 11);
  const std::vector<float> labels = WriteDenseOnly(P("eval.csv"), 1000, 12);
  std::ofstream(P("config.yaml")) << DenseOnlyConfig("");
  const Result r = Run("train -q --config " + P("config.yaml") + " --train " + P("train.csv") +
                       " --model-out " + P("m.crank"));
  ASSERT_EQ(r.code, 0) << r.err;
  CompareWithPredict(P("eval.csv"), 1000, labels, 0.5f);
}

}  // namespace
}  // namespace crank::testing
