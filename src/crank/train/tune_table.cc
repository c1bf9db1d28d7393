#include "crank/train/tune_table.h"

#include <fmt/format.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <vector>

namespace crank {

namespace {
struct Column {
  const char* name;
  int width;
};
constexpr Column kColumns[] = {
    {"trial", 5},    {"config", 6}, {"parent", 6},  {"bracket", 7},   {"rung", 4},
    {"fraction", 8}, {"rows", 9},   {"elr", 8},     {"dlr", 8},       {"l2", 8},
    {"catch_up", 8}, {"dim", 3},    {"buckets", 7}, {"min_count", 9}, {"interaction", 11},
    {"epochs", 6},   {"metric", 8}, {"seconds", 8}, {"status", 0}};

std::vector<std::string> Cells(const TrialRecord& t) {
  const TrialParams& p = t.params;
  return {fmt::format("{}", t.id),
          fmt::format("{}", t.config),
          t.parent >= 0 ? fmt::format("{}", t.parent) : "-",
          fmt::format("{}", t.bracket),
          fmt::format("{}", t.rung),
          fmt::format("{:.4g}", t.fraction),
          fmt::format("{}", t.rows),
          fmt::format("{:g}", p.embedding_learning_rate),
          fmt::format("{:g}", p.dense_learning_rate),
          fmt::format("{:g}", p.embedding_l2),
          p.l2_catch_up > 0 ? fmt::format("{}", p.l2_catch_up) : "-",
          fmt::format("{}", p.embedding_dim),
          p.hash_buckets > 0 ? fmt::format("{}", p.hash_buckets) : "-",
          p.min_count > 0 ? fmt::format("{}", p.min_count) : "-",
          p.InteractionText(),
          fmt::format("{}", p.epochs),
          std::isnan(t.metric) ? "-" : fmt::format("{:.5f}", t.metric),
          fmt::format("{:.1f}", t.seconds),
          t.status};
}

std::string Join(const std::vector<std::string>& cells, bool tsv) {
  std::string line;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i > 0) line += tsv ? "\t" : "  ";
    line += tsv || kColumns[i].width == 0 ? cells[i]
                                          : fmt::format("{:>{}}", cells[i], kColumns[i].width);
  }
  return line + "\n";
}
}  // namespace

std::string TrialTableHeader(const std::string& metric_name, bool tsv) {
  std::vector<std::string> names;
  for (const Column& c : kColumns) names.emplace_back(c.name);
  for (std::string& n : names) {
    if (n == "metric") n = metric_name;
  }
  return Join(names, tsv);
}

std::string TrialTableRow(const TrialRecord& trial, bool tsv) { return Join(Cells(trial), tsv); }

std::string TrialTable(const TuneResult& result, bool tsv) {
  std::string s = TrialTableHeader(result.metric_name, tsv);
  for (const TrialRecord& t : result.trials) s += TrialTableRow(t, tsv);
  return s;
}

std::string TrialsJson(const TuneResult& result) {
  using Json = nlohmann::json;
  Json trials = Json::array();
  for (const TrialRecord& t : result.trials) {
    const TrialParams& p = t.params;
    Json params = {{"embedding_learning_rate", p.embedding_learning_rate},
                   {"dense_learning_rate", p.dense_learning_rate},
                   {"embedding_l2", p.embedding_l2},
                   {"embedding_l2_catch_up", p.l2_catch_up},
                   {"embedding_dim", p.embedding_dim},
                   {"interaction", std::string(NameOf(kInteractionNames, p.interaction))},
                   {"epochs", p.epochs}};
    if (p.interaction == Interaction::kCross) {
      params["cross_layers"] = p.cross_layers;
      params["cross_projection_dim"] = p.cross_projection_dim;
    }
    if (p.hash_buckets > 0) params["hash_buckets"] = p.hash_buckets;
    if (p.min_count > 0) params["min_count"] = p.min_count;
    trials.push_back({{"trial", t.id},
                      {"config", t.config},
                      {"portfolio", t.portfolio},
                      {"parent", t.parent >= 0 ? Json(t.parent) : Json()},
                      {"bracket", t.bracket},
                      {"rung", t.rung},
                      {"fraction", t.fraction},
                      {"max_steps", t.max_steps},
                      {"rows", t.rows},
                      {"params", params},
                      {result.metric_name, std::isnan(t.metric) ? Json() : Json(t.metric)},
                      {"seconds", t.seconds},
                      {"status", t.status}});
  }
  Json j = {{"metric", result.metric_name},
            {"higher_is_better", result.higher_is_better},
            {"best_trial", result.best_trial >= 0 ? Json(result.best_trial) : Json()},
            {"interrupted", result.interrupted},
            {"budget_exhausted", result.budget_exhausted},
            {"space",
             {{"embedding_dims", result.space.embedding_dims},
              {"min_counts", result.space.min_counts},
              {"l2_catch_ups", result.space.l2_catch_ups},
              {"grew", result.space_grew}}},
            {"trials", trials}};
  return j.dump(2) + "\n";
}

}  // namespace crank
