#ifndef CRANK_TESTS_MPI_FIXTURE_H_
#define CRANK_TESTS_MPI_FIXTURE_H_

// The fixture of the `mpirun -np N crank train` tests (mpi_cli_test.cc,
// mpi_sixteen_bit_test.cc): runs crank on N ranks and compares runs and models. Each test skips,
// saying why, when the build has no MPI or mpirun is missing.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_fixture.h"
#include "crank/dist/process_group.h"
#include "crank/io/load_model.h"
#include "event_file_reader.h"

namespace crank::testing {

using Json = nlohmann::json;

class MpiTrain : public CliFixture {
 protected:
  void SetUp() override {
    CliFixture::SetUp();
    if (!HaveMpi()) GTEST_SKIP() << "this build has no MPI (install libopenmpi-dev and rebuild)";
    if (std::string(CRANK_MPIRUN).empty() || !fs::exists(CRANK_MPIRUN)) {
      GTEST_SKIP() << "mpirun was not found (install openmpi-bin)";
    }
  }

  // `crank ARGS` on n ranks (oversubscribed: tests run on two cores), killed after 120 s.
  Result RunMpi(int n, const std::string& args) {
    return RunCommand("timeout 120 " + std::string(CRANK_MPIRUN) +
                      " --allow-run-as-root --oversubscribe --bind-to none -np " +
                      std::to_string(n) + " " + std::string(CRANK_BINARY_DIR) + "/bin/crank " +
                      args);
  }

  // The model and run of every test; Criteo data adds --hash-buckets.
  static std::string Model(bool criteo = true) {
    return std::string(criteo ? " --hash-buckets 500" : "") +
           " --embedding-dim 4 --bottom 16,4 --top 16,1 --batch-size 64 --threads 1 --epochs 2 "
           "--seed 5 --embedding-learning-rate 0.5 --dense-learning-rate 0.003 "
           "--tensorboard-every 1 ";
  }

  // The per-step training loss in the event file under dir.
  std::vector<float> StepLosses(const std::string& dir) {
    std::vector<float> losses;
    for (const auto& e : fs::directory_iterator(dir)) {
      for (const tfevents::Event& ev : ReadEventFile(e.path().string())) {
        float v = 0;
        if (FindScalar(ev, "train/loss", &v)) losses.push_back(v);
      }
    }
    return losses;
  }

  // The per-step losses of the runs whose event files are under a and b: each within `tol`
  // relative; returns the largest relative difference.
  double ExpectSameLosses(const std::string& a, const std::string& b, double tol = 1e-4) {
    const std::vector<float> la = StepLosses(a), lb = StepLosses(b);
    EXPECT_FALSE(la.empty());
    EXPECT_EQ(la.size(), lb.size());
    if (la.empty() || la.size() != lb.size()) return 1.0;
    double worst = 0;
    for (size_t i = 0; i < la.size(); ++i) {
      const double rel = std::abs(double(la[i]) - lb[i]) / std::abs(double(la[i]));
      worst = std::max(worst, rel);
      EXPECT_LE(rel, tol) << "step " << i + 1 << ": " << la[i] << " vs " << lb[i];
    }
    std::cerr << "per-step loss: " << la.size() << " steps, largest relative difference " << worst
              << "\n";
    return worst;
  }

  // The values of a variable as floats (a 16-bit table widened, exactly).
  static std::vector<float> Values(const Variable& v) {
    if (!v.is16()) return v.value.ToVector();
    std::vector<float> out(static_cast<size_t>(v.size()));
    WidenRow(v.precision, v.value16.data(), v.size(), out.data());
    return out;
  }

  // Every variable w of the two model files (the same precisions) within tol x max(1, |w|);
  // returns the largest such difference. *identical (optional) gets the share of the tables'
  // values that are the same bits in both.
  double ExpectCloseModels(const std::string& a, const std::string& b, double tol,
                           double* identical = nullptr) {
    LoadedModel ma = LoadModel(a), mb = LoadModel(b);
    const auto va = ma.model->TrainableVariables(), vb = mb.model->TrainableVariables();
    EXPECT_EQ(va.size(), vb.size());
    double worst = 0;
    int64_t same = 0, table_values = 0;
    std::string where;
    for (size_t i = 0; i < std::min(va.size(), vb.size()); ++i) {
      EXPECT_EQ(va[i]->name, vb[i]->name);
      EXPECT_EQ(va[i]->precision, vb[i]->precision) << va[i]->name;
      const std::vector<float> x = Values(*va[i]), y = Values(*vb[i]);
      if (va[i]->shape() != vb[i]->shape() || x.size() != y.size()) {
        ADD_FAILURE() << va[i]->name << " shapes differ";
        continue;
      }
      for (size_t k = 0; k < x.size(); ++k) {
        // Relative to the weight's size above 1 (embedding rows grow past it).
        const double d = std::abs(x[k] - y[k]) / std::max(1.0, double(std::abs(x[k])));
        if (d > worst) {
          worst = d;
          where = va[i]->name + "[" + std::to_string(k) + "] = " + std::to_string(x[k]);
        }
        if (va[i]->sparse) {
          ++table_values;
          same += std::memcmp(&x[k], &y[k], sizeof(float)) == 0 ? 1 : 0;
        }
      }
    }
    EXPECT_LE(worst, tol) << a << " vs " << b;
    const double share = table_values > 0 ? double(same) / double(table_values) : 1.0;
    std::cerr << "largest weight difference " << worst << " at " << where << "; " << same << " of "
              << table_values << " table values bit-identical\n";
    if (identical != nullptr) *identical = share;
    return worst;
  }

  // The AUC of `crank eval` of the model file `model` on eval.tsv, in one process.
  double EvalAuc(const std::string& model) {
    const Result r = Run("eval --model " + model + " --data " + P("eval.tsv") + " --metrics-out " +
                         P("eval_metrics.json"));
    EXPECT_EQ(r.code, 0) << r.err;
    return r.code == 0 ? Auc(P("eval_metrics.json")) : -1.0;
  }

  // `crank TRAIN_ARGS --resume` of m.crank on n ranks (metrics in m.json): it resumes and ends
  // with the steps of the one-process run of m1.json and its AUC within 1e-3.
  void ResumeOnRanksAsOneProcess(int n, const std::string& train_args) {
    const Result r = RunMpi(
        n, train_args + " --resume --model-out " + P("m.crank") + " --metrics-out " + P("m.json"));
    ASSERT_EQ(r.code, 0) << r.err;
    EXPECT_NE(r.err.find("resuming from"), std::string::npos) << r.err;
    EXPECT_EQ(Json::parse(ReadFile(P("m.json")))["steps"],
              Json::parse(ReadFile(P("m1.json")))["steps"]);
    EXPECT_NEAR(Auc(P("m.json")), Auc(P("m1.json")), 1e-3);
  }

  // Copies the files of the checkpoint m.crank.ckpt (manifest and shards) into the new folder
  // `folder` of the test directory.
  void CopyCheckpointTo(const std::string& folder) {
    fs::create_directories(P(folder));
    for (const auto& e : fs::directory_iterator(dir_)) {
      const std::string name = e.path().filename().string();
      if (name.rfind("m.crank.ckpt", 0) == 0) fs::copy_file(e.path(), P(folder + "/" + name));
    }
  }

  double Auc(const std::string& metrics_json) {
    return Json::parse(ReadFile(metrics_json))["auc"].get<double>();
  }
};

}  // namespace crank::testing

#endif  // CRANK_TESTS_MPI_FIXTURE_H_
