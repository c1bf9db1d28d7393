// `crank tune` end to end: the best configuration trains to the trial's metric under
// `crank train --config`, the search is the same for the same seed, signals stop it with the
// best so far written, and bad flags are named.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "cli_fixture.h"

namespace crank::testing {
namespace {

using Json = nlohmann::json;

class TuneCli : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    Generate(3000, 1000);
    // A small base model; the flags keep the searched tables small too.
    std::ofstream(P("base.yaml")) << "model:\n  embedding_dim: 4\n  bottom: [16, 4]\n"
                                     "  top: [16, 1]\n"
                                     "data:\n  criteo:\n    hash_buckets: 1000\n"
                                     "train:\n  batch_size: 128\n  threads: 2\n";
  }
  std::string Tune(const std::string& extra) {
    return "tune --train " + P("train.tsv") + " --eval " + P("eval.tsv") + " --config " +
           P("base.yaml") +
           " --embedding-dims 4,8 --hash-buckets 500,1000,2000 --epochs 1,2 --min-rung-rows 300 " +
           extra;
  }
};

TEST_F(TuneCli, BestConfigTrainsToTheMetricOfItsTrial) {
  const Result r = Run(
      Tune("--budget 6s --seed 3 --out " + P("best.yaml") + " --trials-out " + P("trials.json")));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.out.find("trial  config  parent  bracket  rung"), std::string::npos) << r.out;
  EXPECT_NE(r.out.find("best: trial"), std::string::npos) << r.out;
  const Json trials = Json::parse(ReadFile(P("trials.json")));
  ASSERT_TRUE(trials["best_trial"].is_number()) << trials.dump();
  const Json& best = trials["trials"][trials["best_trial"].get<size_t>()];
  EXPECT_EQ(best["fraction"].get<double>(), 1.0);
  EXPECT_GE(trials["trials"].size(), 2u) << r.out;
  // Every full-data trial that finished is no better than the best.
  for (const Json& t : trials["trials"]) {
    if (t["fraction"].get<double>() == 1.0 && t["status"] == "ok")
      EXPECT_LE(t["auc"].get<double>(), best["auc"].get<double>());
  }

  const Result train = Run("train --config " + P("best.yaml") + " --model-out " + P("m.crank") +
                           " --metrics-out " + P("m.json"));
  ASSERT_EQ(train.code, 0) << train.err;
  const Json m = Json::parse(ReadFile(P("m.json")));
  EXPECT_EQ(m["auc"].get<double>(), best["auc"].get<double>())
      << "best.yaml should train to the metric of trial " << best["trial"];
  EXPECT_EQ(m["train_examples"].get<int64_t>(), best["rows"].get<int64_t>());
}

TEST_F(TuneCli, TheSameSeedDrawsTheSameConfigurations) {
  auto configs = [&](const std::string& seed, const std::string& name) {
    const Result r = Run(Tune("--budget 4s --seed " + seed + " --out " + P(name + ".yaml") +
                              " --trials-out " + P(name + ".json")));
    EXPECT_EQ(r.code, 0) << r.err;
    std::map<int64_t, std::string> by_config;
    const Json trials = Json::parse(ReadFile(P(name + ".json")));
    // The refinement's configurations (those with a parent) follow from which full-data
    // trials fit the time, so only the drawn ones are compared.
    for (const Json& t : trials["trials"])
      if (t["parent"].is_null()) by_config[t["config"].get<int64_t>()] = t["params"].dump();
    return by_config;
  };
  const auto a = configs("9", "a"), b = configs("9", "b"), c = configs("10", "c");
  int common = 0, differ = 0;
  for (const auto& [id, params] : a) {
    if (b.count(id)) {
      EXPECT_EQ(params, b.at(id)) << "configuration " << id;
      ++common;
    }
    if (id > 0 && c.count(id)) differ += params != c.at(id);
  }
  EXPECT_GE(common, 2);  // trial 0 and at least one drawn configuration
  EXPECT_GE(differ, 1);  // another seed, other draws
}

TEST_F(TuneCli, ThePortfolioRunsFirstUnlessTurnedOff) {
  // The fixture's flags leave the portfolio's dimension (32) out of the space; these do not.
  auto first = [&](const std::string& extra, const std::string& name) {
    const Result r =
        Run("tune --train " + P("train.tsv") + " --eval " + P("eval.tsv") + " --config " +
            P("base.yaml") + " --min-rung-rows 300 --budget 12s --refine-share 0 --seed 1 --out " +
            P(name + ".yaml") + " --trials-out " + P(name + ".json") + " " + extra);
    EXPECT_EQ(r.code, 0) << r.err;
    const Json trials = Json::parse(ReadFile(P(name + ".json")));
    EXPECT_GE(trials["trials"].size(), 2u) << r.out;
    return trials["trials"].size() >= 2 ? trials["trials"][1] : Json();
  };
  // Trial 1 is the first entry whose full-data trial would fit the budget (a larger model
  // than the base's small one, so the first entry may be skipped as too slow). The budget
  // leaves room for both entries on a loaded machine, and none of it goes to the refinement.
  const Json with = first("", "with");
  EXPECT_LE(with["config"].get<int>(), 2);
  EXPECT_EQ(with["portfolio"], true);
  EXPECT_EQ(with["params"]["embedding_dim"], 32);
  EXPECT_EQ(with["params"]["interaction"], "cross");
  const Json without = first("--no-portfolio", "without");
  EXPECT_EQ(without["config"], 1);
  EXPECT_EQ(without["portfolio"], false);
}

TEST_F(TuneCli, TheSpaceGrowsWithTheDataUnlessAListIsGiven) {
  // The fixture's 3000 rows are "large" from --grow-from 1000: min_count 20 and L2 catch-up 100
  // join the space; the dimensions, given by the fixture's --embedding-dims, stay as given.
  auto space = [&](const std::string& extra, const std::string& name, std::string* out) {
    const Result r = Run(Tune("--budget 3s --seed 3 --out " + P(name + ".yaml") +
                              " --trials-out " + P(name + ".json") + " " + extra));
    EXPECT_EQ(r.code, 0) << r.err;
    *out = r.out;
    return Json::parse(ReadFile(P(name + ".json")))["space"];
  };
  std::string out;
  const Json grown = space("--grow-from 1000", "grown", &out);
  EXPECT_EQ(grown["grew"], true);
  EXPECT_EQ(grown["embedding_dims"], Json({4, 8}));
  EXPECT_EQ(grown["min_counts"], Json({1, 2, 5, 10, 20}));
  EXPECT_EQ(grown["l2_catch_ups"], Json({0, 100}));
  EXPECT_NE(out.find("space: embedding dims 4,8; min counts 1,2,5,10,20; l2 catch-ups 0,100 "
                     "(grown for 3000 training rows per epoch, at least 1000)"),
            std::string::npos)
      << out;
  // Fewer rows than the default threshold, or a given list: as given.
  const Json as_given = space("", "default", &out);
  EXPECT_EQ(as_given["grew"], false);
  EXPECT_EQ(as_given["min_counts"], Json({1, 2, 5, 10}));
  EXPECT_EQ(out.find("space:"), std::string::npos) << out;
  EXPECT_EQ(as_given["l2_catch_ups"], Json({0}));
  const Json listed =
      space("--grow-from 1000 --min-counts 2,5 --l2-catch-ups 0,30", "listed", &out);
  EXPECT_EQ(listed["grew"], false);
  EXPECT_EQ(listed["min_counts"], Json({2, 5}));
  EXPECT_EQ(listed["l2_catch_ups"], Json({0, 30}));
  // The catch-up of each trial is in the JSON (which draws reach 30 is tested in
  // TuneSpaceGrowth.CatchUpIsDrawnLastAndOnlyWithL2: how many run here depends on the
  // machine's speed); the best one's is in best.yaml.
  const Json trials = Json::parse(ReadFile(P("listed.json")))["trials"];
  const std::string best = ReadFile(P("listed.yaml"));
  for (const Json& t : trials) {
    const int64_t c = t["params"]["embedding_l2_catch_up"].get<int64_t>();
    EXPECT_TRUE(c == 0 || c == 30) << t.dump();
    if (t["params"]["embedding_l2"].get<double>() == 0.0) EXPECT_EQ(c, 0) << t.dump();
  }
  EXPECT_NE(best.find("embedding_l2_catch_up: "), std::string::npos) << best;
}

TEST_F(TuneCli, SigtermWritesTheBestSoFar) {
  // Sends SIGTERM once the first drawn configuration's trial is listed (at most 60 s).
  const std::string cmd =
      "sh -c '" + std::string(CRANK_BINARY_DIR) + "/bin/crank " +
      Tune("--budget 10m --out " + P("best.yaml") + " --trials-out " + P("t.tsv")) + " >" +
      P("o.txt") + " 2>" + P("e.txt") + " & p=$!; i=0; until grep -q \"^ *1 \" " + P("o.txt") +
      " || [ $i -ge 600 ]; do sleep 0.1; i=$((i+1)); done; "
      "kill -TERM $p; wait $p'";
  const int status = std::system(cmd.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << ReadFile(P("e.txt"));
  const std::string out = ReadFile(P("o.txt"));
  EXPECT_NE(out.find("(interrupted)"), std::string::npos) << out;
  EXPECT_NE(ReadFile(P("e.txt")).find("interrupted"), std::string::npos);
  EXPECT_NE(ReadFile(P("best.yaml")).find("embedding_dim"), std::string::npos);
  EXPECT_NE(ReadFile(P("t.tsv")).find("trial\tconfig"), std::string::npos);
}

TEST_F(TuneCli, BadFlagsAreNamed) {
  for (const char* budget : {"0", "abc", "-3m"}) {
    const Result r = Run(Tune(std::string("--budget ") + budget + " --out " + P("b.yaml")));
    EXPECT_EQ(r.code, 2) << budget;
    EXPECT_NE(r.err.find("--budget"), std::string::npos) << r.err;
  }
  Result r = Run("tune --train " + P("train.tsv") + " --budget 5s --out " + P("b.yaml"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--eval"), std::string::npos) << r.err;
  r = Run(Tune("--budget 5s --embedding-dims 0,4 --out " + P("b.yaml")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--embedding-dims"), std::string::npos) << r.err;
  r = Run(Tune("--budget 5s --grow-from -1 --out " + P("b.yaml")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--grow-from"), std::string::npos) << r.err;
  r = Run(Tune("--budget 5s --l2-catch-ups 0,-5 --out " + P("b.yaml")));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--l2-catch-ups: expected values in [0, 1000000], got -5"),
            std::string::npos)
      << r.err;
  EXPECT_FALSE(std::filesystem::exists(P("b.yaml")));
}

TEST_F(TuneCli, ABudgetTooSmallForTheBaseRunSaysSo) {
  const Result r = Run(Tune("--budget 0.001s --out " + P("b.yaml")));
  EXPECT_EQ(r.code, 2) << r.out;
  EXPECT_NE(r.err.find("--budget"), std::string::npos) << r.err;
  EXPECT_FALSE(std::filesystem::exists(P("b.yaml")));
}

}  // namespace
}  // namespace crank::testing
