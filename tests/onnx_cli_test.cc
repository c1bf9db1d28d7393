// `crank export` and `crank map` on the command line: what they write and how they fail. The
// comparison with ONNX Runtime is in onnxruntime_test.cc.

#include <gtest/gtest.h>
#include <onnx/onnx_pb.h>

#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "cli_fixture.h"

namespace crank::testing {
namespace {

class OnnxCli : public CliFixture {
 protected:
  void TrainSmall(int rows_train = 3000, int rows_eval = 500) {
    Generate(rows_train, rows_eval);
    const Result r =
        Run("train -q --train " + P("train.tsv") + " --model-out " + P("m.crank") + SmallModel());
    ASSERT_EQ(r.code, 0) << r.err;
  }
  // The text after "crank: error: " (one line).
  static std::string ErrorLine(const Result& r) {
    const size_t at = r.err.find("crank: error: ");
    return at == std::string::npos ? "" : r.err.substr(at + 14);
  }
};

TEST_F(OnnxCli, MapWritesTheInputsTheExportedGraphDeclares) {
  TrainSmall();
  Result r = Run("map --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
                 P("request.json") + " --rows 5");
  ASSERT_EQ(r.code, 0) << r.err;
  r = Run("export --model " + P("m.crank") + " --format onnx --out " + P("m.onnx"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_NE(r.err.find("opset 17"), std::string::npos) << r.err;

  const nlohmann::json body = nlohmann::json::parse(ReadFile(P("request.json")));
  const nlohmann::json& inputs = body.at("inputs");
  onnx::ModelProto model;
  ASSERT_TRUE(model.ParseFromString(ReadFile(P("m.onnx"))));
  const onnx::GraphProto& g = model.graph();
  ASSERT_EQ(static_cast<int>(inputs.size()), g.input_size());
  ASSERT_EQ(g.input_size(), 27);  // dense + 26 single-hot Criteo fields
  for (int i = 0; i < g.input_size(); ++i) {
    const auto& declared = g.input(i);
    const nlohmann::json& t = inputs[static_cast<size_t>(i)];
    EXPECT_EQ(t.at("name"), declared.name());
    const bool fp32 = declared.type().tensor_type().elem_type() == onnx::TensorProto::FLOAT;
    EXPECT_EQ(t.at("datatype"), fp32 ? "FP32" : "INT64") << declared.name();
    const auto& shape = declared.type().tensor_type().shape();
    ASSERT_EQ(static_cast<int>(t.at("shape").size()), shape.dim_size()) << declared.name();
    EXPECT_EQ(t.at("shape")[0], 5) << declared.name();  // the batch axis: --rows 5
    for (int d = 1; d < shape.dim_size(); ++d)
      EXPECT_EQ(t.at("shape")[d], shape.dim(d).dim_value());
  }
  EXPECT_EQ(inputs[0].at("name"), "dense");
  EXPECT_EQ(inputs[0].at("shape"), nlohmann::json::array({5, 13}));
  EXPECT_EQ(inputs[1].at("name"), "C1");
  EXPECT_EQ(inputs[2].at("name"), "C10");  // sorted names, as DataSpec

  // Without --rows every row is mapped.
  r = Run("map --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " + P("all.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(ReadFile(P("all.json")))["inputs"][0]["shape"][0], 500);
}

TEST_F(OnnxCli, MapFollowsBadRowsAsPredict) {
  TrainSmall(2000, 100);
  {
    std::ofstream f(P("eval.tsv"), std::ios::app);
    f << "1\t2\tthree\n";  // line 101: wrong column count
  }
  const Result predict =
      Run("predict --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " + P("p.txt"));
  Result map = Run("map --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
                   P("request.json"));
  EXPECT_EQ(predict.code, 3) << predict.err;
  EXPECT_EQ(map.code, 3) << map.err;
  EXPECT_NE(map.err.find("eval.tsv:101"), std::string::npos) << map.err;
  EXPECT_FALSE(fs::exists(P("request.json")));

  map = Run("map --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " +
            P("request.json") + " --bad-rows skip");
  ASSERT_EQ(map.code, 0) << map.err;
  EXPECT_NE(map.err.find("1 malformed rows were skipped"), std::string::npos) << map.err;
  const nlohmann::json body = nlohmann::json::parse(ReadFile(P("request.json")));
  EXPECT_EQ(body["inputs"][0]["shape"][0], 100);
}

TEST_F(OnnxCli, DamagedModelFailsAsEvalDoes) {
  TrainSmall(2000, 100);
  std::string bytes = ReadFile(P("m.crank"));
  bytes[bytes.size() / 2] ^= 0x5a;
  { std::ofstream(P("damaged.crank"), std::ios::binary) << bytes; }
  { std::ofstream(P("truncated.crank"), std::ios::binary) << bytes.substr(0, bytes.size() / 3); }
  for (const char* name : {"damaged.crank", "truncated.crank"}) {
    const Result eval = Run(std::string("eval --model ") + P(name) + " --data " + P("eval.tsv"));
    const Result exp = Run(std::string("export --model ") + P(name) + " --out " + P("m.onnx"));
    const Result map = Run(std::string("map --model ") + P(name) + " --data " + P("eval.tsv") +
                           " --out " + P("r.json"));
    ASSERT_NE(eval.code, 0) << name;
    EXPECT_EQ(exp.code, eval.code) << exp.err;
    EXPECT_EQ(map.code, eval.code) << map.err;
    EXPECT_EQ(ErrorLine(exp), ErrorLine(eval)) << name;
    EXPECT_EQ(ErrorLine(map), ErrorLine(eval)) << name;
    EXPECT_FALSE(fs::exists(P("m.onnx")));
  }
}

TEST_F(OnnxCli, BadFlagsExitWithTwo) {
  TrainSmall(2000, 100);
  Result r = Run("export --model " + P("m.crank") + " --format tflite --out " + P("m.onnx"));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--format: expected onnx, got 'tflite'"), std::string::npos) << r.err;
  r = Run("export --model " + P("m.crank") + " --out " + P("m.onnx") + " --opset 13");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("opset: expected 16 to 17, got 13"), std::string::npos) << r.err;
  r = Run("map --model " + P("m.crank") + " --data " + P("eval.tsv") + " --out " + P("r.json") +
          " --rows -3");
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("--rows: expected a count >= 0, got -3"), std::string::npos) << r.err;
  EXPECT_EQ(Run("export --model " + P("m.crank")).code, 2);  // --out is required
}

TEST_F(OnnxCli, ExternalDataWithASmallInlineLimit) {
  TrainSmall(2000, 100);
  const Result r =
      Run("export --model " + P("m.crank") + " --out " + P("m.onnx") + " --inline-limit 1000");
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(P("m.onnx.data")));
  EXPECT_NE(r.err.find("external data file"), std::string::npos) << r.err;
  // 26 tables of 2000 x 4 floats and more: all in the data file.
  EXPECT_GT(fs::file_size(P("m.onnx.data")), 26u * 2000 * 4 * 4);
  EXPECT_LT(fs::file_size(P("m.onnx")), 60000u);
}

}  // namespace
}  // namespace crank::testing
