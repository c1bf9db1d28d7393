#include "crank/export/onnx_export.h"

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/model_inputs.h"
#include "crank/layers/dot_interaction.h"
#include "crank/layers/embedding_collection.h"
#include "crank/layers/mlp.h"
#include "crank/model/ranking.h"
#include "crank/model/ranking_config.h"

namespace crank {
namespace {

namespace fs = std::filesystem;

class TempDir {
 public:
  TempDir() {
    dir_ = fs::temp_directory_path() /
           ("crank_export_test_" + std::to_string(::getpid()) + "_" +
            ::testing::UnitTest::GetInstance()->current_test_info()->name());
    fs::create_directories(dir_);
  }
  ~TempDir() { fs::remove_all(dir_); }
  std::string Path(const std::string& name) const { return (dir_ / name).string(); }

 private:
  fs::path dir_;
};

std::string ReadBytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Dense x, y; multi-hot "genres" (vocabulary 7); single-hot "user" (vocabulary 11).
DataSpec Spec() {
  DataSpec spec;
  spec.dense = {"x", "y"};
  spec.sparse = {{.name = "genres", .vocabulary_size = 7, .multi_hot = true},
                 {.name = "user", .vocabulary_size = 11, .multi_hot = false}};
  return spec;
}

RankingConfig Config() {
  RankingConfig c;
  c.dense_features = 2;
  c.tables = {{.name = "genres", .vocabulary_size = 7, .dim = 4},
              {.name = "user", .vocabulary_size = 11, .dim = 4}};
  c.features = {{.name = "genres", .table = "genres"}, {.name = "user", .table = "user"}};
  c.bottom = {8, 4};
  c.top = {8, 1};
  return c;
}

onnx::ModelProto Load(const std::string& path) {
  onnx::ModelProto m;
  EXPECT_TRUE(m.ParseFromString(ReadBytes(path))) << path;
  return m;
}

TEST(OnnxExport, GraphDeclaresTheModelSpaceInputsWithADynamicBatch) {
  TempDir dir;
  Ranking model(Config());
  OnnxExportOptions options;
  options.weighted_ids = true;
  const OnnxExportResult r = ExportOnnx(model, Spec(), dir.Path("m.onnx"), options);
  EXPECT_EQ(r.ir_version, 8);
  EXPECT_EQ(r.opset, 17);
  EXPECT_TRUE(r.external.empty());
  EXPECT_FALSE(fs::exists(dir.Path("m.onnx.data")));
  const onnx::ModelProto m = Load(dir.Path("m.onnx"));
  EXPECT_EQ(m.ir_version(), 8);
  ASSERT_EQ(m.opset_import_size(), 1);
  EXPECT_EQ(m.opset_import(0).version(), 17);
  const onnx::GraphProto& g = m.graph();
  const std::vector<std::string> names = {"dense", "genres", "genres.lengths", "genres.weights",
                                          "user"};
  ASSERT_EQ(g.input_size(), static_cast<int>(names.size()));
  for (int i = 0; i < g.input_size(); ++i) EXPECT_EQ(g.input(i).name(), names[i]);
  EXPECT_EQ(r.inputs, names);
  const auto& dense = g.input(0).type().tensor_type();
  EXPECT_EQ(dense.elem_type(), onnx::TensorProto::FLOAT);
  ASSERT_EQ(dense.shape().dim_size(), 2);
  EXPECT_EQ(dense.shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(dense.shape().dim(1).dim_value(), 2);
  EXPECT_EQ(g.input(1).type().tensor_type().elem_type(), onnx::TensorProto::INT64);
  EXPECT_EQ(g.input(1).type().tensor_type().shape().dim(0).dim_param(), "genres.nnz");
  EXPECT_EQ(g.input(2).type().tensor_type().shape().dim(0).dim_param(), "batch");
  EXPECT_EQ(g.input(3).type().tensor_type().shape().dim(0).dim_param(), "genres.nnz");
  ASSERT_EQ(g.output_size(), 1);
  EXPECT_EQ(g.output(0).name(), "predictions");
  EXPECT_EQ(g.output(0).type().tensor_type().shape().dim(0).dim_param(), "batch");
  for (const onnx::NodeProto& n : g.node()) {
    EXPECT_NE(n.op_type(), "Loop") << "embedding bags must not need a Loop";
  }
}

TEST(OnnxExport, TablesOverTheLimitGoToExternalDataNextToTheFile) {
  TempDir dir;
  Ranking model(Config());
  OnnxExportOptions options;
  options.inline_limit_bytes = 400;  // forces the tables (and the largest kernels) out
  const OnnxExportResult r = ExportOnnx(model, Spec(), dir.Path("m.onnx"), options);
  ASSERT_FALSE(r.external.empty());
  EXPECT_EQ(r.external_data_path, dir.Path("m.onnx.data"));
  const std::string data = ReadBytes(dir.Path("m.onnx.data"));
  EXPECT_EQ(static_cast<int64_t>(data.size()), r.external_bytes);
  const onnx::ModelProto m = Load(dir.Path("m.onnx"));
  std::vector<Variable*> tables = model.EmbeddingTrainableVariables();
  int checked_tables = 0;
  int64_t inline_bytes = 0;
  for (const onnx::TensorProto& t : m.graph().initializer()) {
    if (t.data_location() != onnx::TensorProto::EXTERNAL) {
      inline_bytes += static_cast<int64_t>(t.ByteSizeLong());
      continue;
    }
    EXPECT_TRUE(t.raw_data().empty());
    std::string location;
    int64_t offset = -1, length = -1;
    for (const auto& e : t.external_data()) {
      if (e.key() == "location") location = e.value();
      if (e.key() == "offset") offset = std::stoll(e.value());
      if (e.key() == "length") length = std::stoll(e.value());
    }
    EXPECT_EQ(location, "m.onnx.data");  // relative to the model file
    ASSERT_GE(offset, 0);
    ASSERT_LE(offset + length, static_cast<int64_t>(data.size()));
    for (const Variable* v : tables) {
      if (t.name() != v->name) continue;
      ASSERT_EQ(length, v->value.size() * 4);
      EXPECT_EQ(std::memcmp(data.data() + offset, v->value.data(), length), 0) << v->name;
      ++checked_tables;
    }
  }
  EXPECT_EQ(checked_tables, 2);
  EXPECT_LE(inline_bytes, 400);

  // Exported again within the limit: one file, the stale data file removed.
  const OnnxExportResult again = ExportOnnx(model, Spec(), dir.Path("m.onnx"));
  EXPECT_TRUE(again.external.empty());
  EXPECT_FALSE(fs::exists(dir.Path("m.onnx.data")));
}

// A top stack crank can run but ONNX export does not know: the sum of the inputs.
class SumBlock : public Block {
 public:
  int64_t Build(int64_t input_dim, Rng&) override { return 1; }
  void Forward(const Tensor& x, Tensor* y, bool) override { Predict(x, y, nullptr); }
  void Predict(const Tensor& x, Tensor* y, InferenceScratch*) const override {
    y->Resize({x.dim(0), 1});
    for (int64_t b = 0; b < x.dim(0); ++b) {
      float s = 0;
      for (int64_t j = 0; j < x.dim(1); ++j) s += x.at(b, j);
      y->at(b, 0) = s;
    }
  }
  void Backward(const Tensor&, Tensor*) override {}
  std::vector<Variable*> Variables() override { return {}; }
};

RankingBlocks BlocksWithSumTop() {
  const RankingConfig c = Config();
  RankingBlocks b;
  b.embedding = std::make_unique<EmbeddingCollection>(c.tables, c.features);
  MlpOptions bottom;
  bottom.units = {8, 4};
  b.bottom_stack = std::make_unique<Mlp>("bottom", bottom);
  b.top_stack = std::make_unique<SumBlock>();
  return b;
}

TEST(OnnxExport, UserDefinedBlockFailsNamingTheBlockAndWritesNothing) {
  TempDir dir;
  Ranking model(BlocksWithSumTop(), 2, 1);
  try {
    ExportOnnx(model, Spec(), dir.Path("m.onnx"));
    FAIL() << "exported a user-defined block";
  } catch (const UnsupportedBlockError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("the top stack is a crank::(anonymous namespace)::SumBlock"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("has no ONNX form"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(dir.Path("m.onnx")));
  // An InvalidArgument: the CLI exits with 2.
  EXPECT_THROW(ExportOnnx(model, Spec(), dir.Path("m.onnx")), InvalidArgument);
}

TEST(OnnxExport, RejectsOpsetsOutsideTheCheckedRangeAndAMismatchedSpec) {
  TempDir dir;
  Ranking model(Config());
  for (const int opset : {15, 18}) {
    OnnxExportOptions o;
    o.opset = opset;
    try {
      ExportOnnx(model, Spec(), dir.Path("m.onnx"), o);
      ADD_FAILURE() << "opset " << opset;
    } catch (const InvalidArgument& e) {
      EXPECT_NE(
          std::string(e.what()).find("opset: expected 16 to 17, got " + std::to_string(opset)),
          std::string::npos)
          << e.what();
    }
  }
  OnnxExportOptions o16;
  o16.opset = 16;
  EXPECT_EQ(ExportOnnx(model, Spec(), dir.Path("m16.onnx"), o16).opset, 16);

  DataSpec other = Spec();
  other.sparse[1].name = "zuser";
  EXPECT_THROW(ExportOnnx(model, other, dir.Path("m.onnx")), InvalidArgument);
  DataSpec wide = Spec();
  wide.dense.push_back("z");
  EXPECT_THROW(ExportOnnx(model, wide, dir.Path("m.onnx")), InvalidArgument);
  EXPECT_FALSE(fs::exists(dir.Path("m.onnx")));
}

}  // namespace
}  // namespace crank
