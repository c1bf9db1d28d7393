// `crank report` on the command line: the page it writes and how it fails. The page rendered
// by a browser is checked in report_browser_test.cc.

#include <fmt/format.h>
#include <gtest/gtest.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>

#include "cli_fixture.h"
#include "crank/report/report.h"
#include "movielens_data.h"

namespace crank::testing {
namespace {

class ReportCli : public CliFixture {
 protected:
  // A small model trained with an evaluation after each of 2 epochs (its history).
  void TrainSmall() {
    Generate(3000, 500);
    const Result r = Run("train -q --train " + P("train.tsv") + " --eval " + P("eval.tsv") +
                         " --epochs 2 --model-out " + P("m.crank") + SmallModel());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  static std::string ErrorLine(const Result& r) {
    const size_t at = r.err.find("crank: error: ");
    return at == std::string::npos ? "" : r.err.substr(at + 14);
  }
  // Files in the test directory whose name starts with `prefix` (temporaries included).
  int FilesStartingWith(const std::string& prefix) const {
    int n = 0;
    for (const auto& e : fs::directory_iterator(dir_)) {
      n += e.path().filename().string().rfind(prefix, 0) == 0 ? 1 : 0;
    }
    return n;
  }
};

bool Has(const std::string& s, const std::string& what) {
  return s.find(what) != std::string::npos;
}

TEST_F(ReportCli, WritesOnePageWithEverySectionAndTheEvalMetrics) {
  TrainSmall();
  Result r = Run("report --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
                 P("report.html") + " --batch-size 128");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(Has(r.err, "wrote the report on 500 examples")) << r.err;
  const std::string page = ReadFile(P("report.html"));
  for (const std::string& t : ReportSectionTitles(false)) {
    EXPECT_TRUE(Has(page, ">" + t + "</h2>")) << t;
  }
  EXPECT_TRUE(Has(page, P("m.crank")));
  EXPECT_TRUE(Has(page, "2 evaluations stored with the model"));
  EXPECT_FALSE(Has(page, "<script"));
  // The metrics table holds the numbers `crank eval` prints.
  r = Run("eval --model " + P("m.crank") + " --data " + P("eval.tsv") + " --batch-size 128 " +
          "--metrics-out " + P("eval.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const nlohmann::json eval = nlohmann::json::parse(ReadFile(P("eval.json")));
  EXPECT_TRUE(Has(page, fmt::format(">{:.6g}</td>", eval.at("auc").get<double>()))) << page;
  EXPECT_TRUE(Has(page, fmt::format(">{:.6g}</td>", eval.at("logloss").get<double>())));
  EXPECT_TRUE(Has(page, "<td class=\"k\">examples</td><td>500</td>"));
}

TEST_F(ReportCli, FailsAsEvalDoesAndNeverLeavesAPartialPage) {
  TrainSmall();
  // A missing model: the same error and exit code as `crank eval`.
  const Result eval_missing = Run("eval --model " + P("none.crank") + " --data " + P("eval.tsv"));
  Result r = Run("report --model " + P("none.crank") + " --data " + P("eval.tsv") + " --out " +
                 P("report.html"));
  EXPECT_EQ(r.code, eval_missing.code);
  EXPECT_EQ(r.code, 4) << r.err;
  EXPECT_EQ(ErrorLine(r), ErrorLine(eval_missing));
  EXPECT_FALSE(fs::exists(P("report.html")));

  // A damaged model file.
  std::string bytes = ReadFile(P("m.crank"));
  bytes[bytes.size() / 2] ^= 0x5a;
  std::ofstream(P("damaged.crank"), std::ios::binary) << bytes;
  r = Run("report --model " + P("damaged.crank") + " --data " + P("eval.tsv") + " --out " +
          P("report.html"));
  EXPECT_EQ(r.code, Run("eval --model " + P("damaged.crank") + " --data " + P("eval.tsv")).code);
  EXPECT_NE(r.code, 0);
  EXPECT_FALSE(fs::exists(P("report.html")));

  // An unwritable output fails first, before the model is even read.
  r = Run("report --model " + P("none.crank") + " --data " + P("eval.tsv") + " --out " +
          P("no/such/dir/report.html"));
  EXPECT_EQ(r.code, 4);
  EXPECT_TRUE(Has(ErrorLine(r), "no/such/dir/report.html")) << r.err;
  r = Run("report --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
          dir_.string());
  EXPECT_EQ(r.code, 4) << r.err;

  // Malformed data with --bad-rows fail: the error names the line; no page, no temporary.
  {
    std::ofstream f(P("eval.tsv"), std::ios::app);
    f << "1\t2\tthree\n";  // line 501: wrong column count
  }
  r = Run("report --model " + P("m.crank") + " --data " + P("eval.tsv") + " --bad-rows fail " +
          "--out " + P("report.html"));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Has(ErrorLine(r), "eval.tsv:501")) << r.err;
  EXPECT_EQ(FilesStartingWith("report.html"), 0);

  // An existing page is replaced only by a complete one.
  std::ofstream(P("report.html")) << "previous";
  r = Run("report --model " + P("m.crank") + " --data " + P("eval.tsv") + " --bad-rows fail " +
          "--out " + P("report.html"));
  EXPECT_EQ(r.code, 3);
  EXPECT_EQ(ReadFile(P("report.html")), "previous");
  EXPECT_EQ(FilesStartingWith("report.html"), 1);
}

TEST_F(ReportCli, UnlabelledDataIsADataError) {
  TrainSmall();
  ASSERT_EQ(Run("gen --rows 100 --seed 3 --unlabelled --out " + P("unlabelled.tsv")).code, 0);
  const Result r = Run("report --model " + P("m.crank") + " --data " + P("unlabelled.tsv") +
                       " --out " + P("report.html"));
  EXPECT_EQ(r.code, 3) << r.err;
  EXPECT_TRUE(Has(ErrorLine(r), "label")) << r.err;
  EXPECT_FALSE(fs::exists(P("report.html")));
}

TEST_F(ReportCli, RatingModelGetsRegressionPlotsAndNoRoc) {
  const SyntheticMovieLens data = WriteSyntheticMovieLens(
      dir_ / "movielens", std::string(CRANK_SOURCE_DIR) + "/examples/movielens.yaml");
  Result r = Run("train -q --config " + data.config.string() + " --model-out " + P("ml.crank") +
                 " --epochs 1 --bottom 16,8 --top 16,1 --embedding-dim 8 --threads 2");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run("report --model " + P("ml.crank") + " --data " + data.ratings.string() + " --out " +
          P("ml.html"));
  ASSERT_EQ(r.code, 0) << r.err;
  // The config's hold-out: --rows auto evaluates the held-out rows, as crank eval does.
  EXPECT_TRUE(Has(r.err, fmt::format("wrote the report on {} examples", data.eval_rows))) << r.err;
  const std::string page = ReadFile(P("ml.html"));
  for (const std::string& t : ReportSectionTitles(true)) {
    EXPECT_TRUE(Has(page, ">" + t + "</h2>")) << t;
  }
  EXPECT_FALSE(Has(page, ">ROC curve</h2>"));
  EXPECT_TRUE(Has(page, "regression (mean squared error) model"));
  EXPECT_TRUE(Has(page, ">rmse</td>"));
  EXPECT_FALSE(Has(page, ">auc</td>"));  // undefined for star ratings: not in the table
}

}  // namespace
}  // namespace crank::testing
