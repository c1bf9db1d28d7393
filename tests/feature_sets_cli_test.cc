// Models without dense features (an Avazu-like file: a label and categorical columns only) and
// without sparse features (numeric columns only) through the CLI -- train, eval, predict, info,
// map -- and `crank serve` (in process): rows and typed model-space tensors give `crank predict`'s
// bits. CTest label "cli_e2e" (left out of the asan preset: it trains five models through the
// CLI; the model code itself runs under ASan in crank_model_test's RankingWithoutDense.* and
// RankingWithoutSparse.*).

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "feature_sets_data.h"
#include "serve_test_util.h"

namespace crank {
namespace {

using testing::Lines;
using testing::PredictionLines;
using testing::ReadFile;
using testing::Result;

void WriteText(const std::string& path, const std::string& text) {
  std::ofstream(path, std::ios::binary) << text;
}

class FeatureSetsCli : public testing::CliFixture {
 protected:
  // Trains m.crank from config.yaml on train.csv with eval.csv, checks the AUC of the held-out
  // rows, and that eval, predict, info, map and serve work on the model. Returns train's stderr.
  std::string TrainAndUse(const std::string& info_line) {
    Result r =
        Run("train --config " + P("config.yaml") + " --train " + P("train.csv") + " --eval " +
            P("eval.csv") + " --model-out " + P("m.crank") + " --metrics-out " + P("train.json"));
    EXPECT_EQ(r.code, 0) << r.err;
    if (r.code != 0) return r.err;
    const auto train = nlohmann::json::parse(ReadFile(P("train.json")));
    EXPECT_EQ(train["examples"], 1500);
    const double auc = train["auc"].get<double>();
    EXPECT_GT(auc, 0.65) << "held-out AUC of a learnable signal";
    std::printf("held-out AUC %.4f\n", auc);

    const Result e = Run("eval --model " + P("m.crank") + " --data " + P("eval.csv") +
                         " --metrics-out " + P("eval.json"));
    EXPECT_EQ(e.code, 0) << e.err;
    EXPECT_NEAR(nlohmann::json::parse(ReadFile(P("eval.json")))["auc"].get<double>(), auc, 1e-6);

    const Result i = Run("info --model " + P("m.crank"));
    EXPECT_EQ(i.code, 0) << i.err;
    EXPECT_NE(i.out.find(info_line), std::string::npos) << i.out;

    // The first 40 rows: crank predict, crank map + typed tensors, and rows, through serve.
    const std::vector<std::string> lines = Lines(ReadFile(P("eval.csv")));
    std::string part;
    for (size_t k = 0; k <= 40; ++k) part += lines[k] + "\n";  // header + 40 rows
    WriteText(P("part.csv"), part);
    EXPECT_EQ(
        Run("predict --model " + P("m.crank") + " --data " + P("part.csv") + " --out " + P("p.txt"))
            .code,
        0);
    const std::string expected = ReadFile(P("p.txt"));
    EXPECT_EQ(Lines(expected).size(), 40u);
    const Result m = Run("map --model " + P("m.crank") + " --data " + P("part.csv") + " --out " +
                         P("request.json"));
    EXPECT_EQ(m.code, 0) << m.err;
    const std::string typed = ReadFile(P("request.json"));
    testing::TestServer s(P("m.crank"));
    auto c = s.Client();
    auto answer = c.Post("/v2/models/m/infer", typed, "application/json");
    EXPECT_EQ(answer->status, 200) << answer->body;
    EXPECT_EQ(PredictionLines(answer->body), expected) << "typed tensors";
    answer = c.Post("/v2/models/m/infer",
                    testing::RowsBody(std::vector<std::string>(lines.begin(), lines.begin() + 41)),
                    "application/json");
    EXPECT_EQ(answer->status, 200) << answer->body;
    EXPECT_EQ(PredictionLines(answer->body), expected) << "rows";
    inputs_ = nlohmann::json::parse(typed)["inputs"];
    return r.err;
  }

  std::vector<std::string> InputNames() const {
    std::vector<std::string> names;
    for (const auto& in : inputs_) names.push_back(in["name"]);
    return names;
  }

  nlohmann::json inputs_;
};

TEST_F(FeatureSetsCli, CategoricalOnlyDotModelLearnsAndServes) {
  testing::WriteCategoricalOnly(P("train.csv"), 6000, 11);
  testing::WriteCategoricalOnly(P("eval.csv"), 1500, 12);
  WriteText(P("config.yaml"), testing::CategoricalOnlyConfig(""));  // bottom: the default
  const std::string log = TrainAndUse("# dense features: 0, sparse features: 20");
  // The default bottom stack is not built, and the log says so.
  EXPECT_NE(log.find("model.bottom [256, 64, 16] ignored: the data has no dense features"),
            std::string::npos)
      << log;
  const std::vector<std::string> names = InputNames();
  ASSERT_EQ(names.size(), 21u);  // c00 .. c18, c19 and c19.lengths; no "dense"
  EXPECT_EQ(names[0], "c00");
  EXPECT_EQ(names[20], "c19.lengths");
  for (const std::string& n : names) EXPECT_NE(n, "dense");
}

TEST_F(FeatureSetsCli, CategoricalOnlyCrossModelWithExplicitNoBottomLearns) {
  testing::WriteCategoricalOnly(P("train.csv"), 6000, 11);
  testing::WriteCategoricalOnly(P("eval.csv"), 1500, 12);
  WriteText(P("config.yaml"),
            testing::CategoricalOnlyConfig("  bottom: []\n  interaction: cross\n"));
  const std::string log = TrainAndUse("# dense features: 0, sparse features: 20");
  EXPECT_EQ(log.find("model.bottom"), std::string::npos) << log;  // `bottom: []` says it
}

TEST_F(FeatureSetsCli, DenseOnlyModelLearnsAndServes) {
  testing::WriteDenseOnly(P("train.csv"), 6000, 11);
  testing::WriteDenseOnly(P("eval.csv"), 1500, 12);
  WriteText(P("config.yaml"), testing::DenseOnlyConfig(""));
  TrainAndUse("# dense features: 4, sparse features: 0");
  EXPECT_EQ(InputNames(), std::vector<std::string>{"dense"});
}

TEST_F(FeatureSetsCli, InvalidCombinationsAreRefusedNamingTheField) {
  testing::WriteDenseOnly(P("dense.csv"), 100, 1);
  WriteText(P("config.yaml"),
            testing::DenseOnlyConfig("").replace(
                testing::DenseOnlyConfig("").find("bottom: [16, 8]"), 15, "bottom: []"));
  Result r = Run("train --config " + P("config.yaml") + " --train " + P("dense.csv") +
                 " --model-out " + P("m.crank"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("model.bottom: expected at least one layer size for the data's 4 dense "
                       "features, got []"),
            std::string::npos)
      << r.err;

  // One categorical column and no dense ones: the dot interaction has no pair.
  WriteText(P("one.csv"), "y,a\n1,x\n0,y\n1,x\n0,z\n");
  WriteText(P("one.yaml"),
            "data:\n  format: delimited\n  delimited:\n    delimiter: \",\"\n    label: y\n"
            "    categorical:\n      - {name: a, hash_buckets: 10}\n"
            "model:\n  bottom: []\n");
  r = Run("train --config " + P("one.yaml") + " --train " + P("one.csv") + " --model-out " +
          P("one.crank"));
  EXPECT_EQ(r.code, 2) << r.err;
  EXPECT_NE(r.err.find("has no output for 1 vector(s) (a dot interaction needs two, or "
                       "self_interaction)"),
            std::string::npos)
      << r.err;
  // ... with self_interaction it has one: the squared norm of the embedding.
  WriteText(P("one.yaml"), ReadFile(P("one.yaml")) + "  dot: {self_interaction: true}\n");
  r = Run("train --config " + P("one.yaml") + " --train " + P("one.csv") + " --model-out " +
          P("one.crank"));
  EXPECT_EQ(r.code, 0) << r.err;
}

}  // namespace
}  // namespace crank
