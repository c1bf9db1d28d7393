#include "crank/data/model_inputs.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/test_util.h"

namespace crank {
namespace {

// Two dense fields, a multi-hot "G" (vocabulary 10) and a single-hot "U" (vocabulary 5).
DataSpec TestSpec() {
  DataSpec spec;
  spec.dense = {"x", "y"};
  spec.sparse = {{.name = "G", .vocabulary_size = 10, .multi_hot = true},
                 {.name = "U", .vocabulary_size = 5, .multi_hot = false}};
  return spec;
}

// Three examples; G's bags are {1, 2}, {} (empty) and {9}.
Batch TestBatch(bool with_weights) {
  Batch b;
  b.dense = Tensor({3, 2}, {0.5f, -1.0f, 2.0f, 3.0f, NAN, 4.0f});
  b.sparse.resize(2);
  b.sparse[0].ids = {1, 2, 9};
  b.sparse[0].offsets = {0, 2, 2, 3};
  if (with_weights) b.sparse[0].weights = {0.5f, 2.0f, 1.0f};
  b.sparse[1].ids = {4, 0, 3};
  b.sparse[1].offsets = {0, 1, 2, 3};
  return b;
}

NamedTensor* Find(std::vector<NamedTensor>& inputs, const std::string& name) {
  for (NamedTensor& t : inputs) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

// Expects ModelInputsToBatch(inputs) to throw InvalidArgument whose message contains `text`.
void ExpectRejected(const std::vector<NamedTensor>& inputs, const std::string& text) {
  try {
    ModelInputsToBatch(inputs, TestSpec());
    ADD_FAILURE() << "accepted; expected an error containing: " << text;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

void ExpectJsonRejected(const nlohmann::json& inputs, const std::string& text) {
  try {
    ModelInputsFromJson(inputs);
    ADD_FAILURE() << "accepted; expected an error containing: " << text;
  } catch (const InvalidArgument& e) {
    EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
  }
}

TEST(ModelInputs, SpecsFollowTheDataSpecOrder) {
  const std::vector<InputSpec> specs = ModelInputSpecs(TestSpec());
  ASSERT_EQ(specs.size(), 4u);
  EXPECT_EQ(specs[0].name, "dense");
  EXPECT_EQ(specs[0].dtype, InputDType::kFp32);
  EXPECT_EQ(specs[0].shape, (std::vector<int64_t>{-1, 2}));
  EXPECT_EQ(specs[1].name, "G");
  EXPECT_EQ(specs[2].name, "G.lengths");
  EXPECT_EQ(specs[3].name, "U");
  EXPECT_EQ(specs[3].dtype, InputDType::kInt64);
  EXPECT_EQ(specs[3].shape, (std::vector<int64_t>{-1}));
  EXPECT_STREQ(InputDTypeName(InputDType::kInt64), "INT64");
  EXPECT_STREQ(InputDTypeName(InputDType::kFp32), "FP32");
  EXPECT_EQ(OptionalWeightsSpec("G").name, "G.weights");

  DataSpec no_dense = TestSpec();
  no_dense.dense.clear();
  EXPECT_EQ(ModelInputSpecs(no_dense).front().name, "G");
}

TEST(ModelInputs, BatchRoundTripKeepsEveryValue) {
  for (const bool weighted : {false, true}) {
    const Batch batch = TestBatch(weighted);
    std::vector<NamedTensor> inputs = BatchToModelInputs(batch, TestSpec());
    ASSERT_EQ(inputs.size(), weighted ? 5u : 4u);
    const NamedTensor* lengths = Find(inputs, "G.lengths");
    ASSERT_NE(lengths, nullptr);
    EXPECT_EQ(lengths->int64, (std::vector<int64_t>{2, 0, 1}));
    EXPECT_EQ(Find(inputs, "G")->shape, (std::vector<int64_t>{3}));
    EXPECT_EQ(Find(inputs, "dense")->shape, (std::vector<int64_t>{3, 2}));
    const Batch back = ModelInputsToBatch(inputs, TestSpec());
    ASSERT_EQ(back.size(), 3);
    EXPECT_TRUE(std::isnan(back.dense[4]));
    Batch expected = batch;
    expected.dense[4] = 0.0f;  // NaN != NaN; compare the rest
    Batch got = back;
    got.dense[4] = 0.0f;
    test::ExpectBatchesEqual(expected, got);
  }
}

TEST(ModelInputs, JsonRoundTripIsExact) {
  Batch batch = TestBatch(true);
  batch.dense[4] = 0.1f;  // JSON has no NaN
  const std::vector<NamedTensor> inputs = BatchToModelInputs(batch, TestSpec());
  const nlohmann::json j = ModelInputsToJson(inputs);
  ASSERT_TRUE(j.is_array());
  EXPECT_EQ(j[0]["name"], "dense");
  EXPECT_EQ(j[0]["datatype"], "FP32");
  EXPECT_EQ(j[0]["shape"], nlohmann::json::array({3, 2}));
  const std::vector<NamedTensor> parsed = ModelInputsFromJson(nlohmann::json::parse(j.dump()));
  ASSERT_EQ(parsed.size(), inputs.size());
  for (size_t i = 0; i < inputs.size(); ++i) {
    EXPECT_EQ(parsed[i].name, inputs[i].name);
    EXPECT_EQ(parsed[i].dtype, inputs[i].dtype);
    EXPECT_EQ(parsed[i].shape, inputs[i].shape);
    EXPECT_EQ(parsed[i].fp32, inputs[i].fp32);  // bit-exact through the text
    EXPECT_EQ(parsed[i].int64, inputs[i].int64);
  }
  test::ExpectBatchesEqual(batch, ModelInputsToBatch(parsed, TestSpec()));
}

TEST(ModelInputs, EmptyBatchAndNoDense) {
  DataSpec spec = TestSpec();
  spec.dense.clear();
  Batch empty;
  empty.dense.Resize({0, 0});
  empty.sparse.resize(2);
  empty.sparse[0].Clear();
  empty.sparse[1].Clear();
  const std::vector<NamedTensor> inputs = BatchToModelInputs(empty, spec);
  EXPECT_EQ(inputs.size(), 3u);
  EXPECT_EQ(ModelInputsToBatch(inputs, spec).size(), 0);
}

TEST(ModelInputs, RejectsUnknownMissingAndDuplicateNames) {
  auto inputs = BatchToModelInputs(TestBatch(false), TestSpec());
  auto unknown = inputs;
  unknown.push_back(unknown.back());
  unknown.back().name = "Z";
  ExpectRejected(unknown, "input 'Z': unknown input (the model takes dense, G, G.lengths, U)");
  auto single_weights = inputs;
  single_weights.push_back(
      {.name = "U.weights", .dtype = InputDType::kFp32, .shape = {3}, .fp32 = {1, 1, 1}});
  ExpectRejected(single_weights, "input 'U.weights': unknown input");
  auto duplicate = inputs;
  duplicate.push_back(inputs[0]);
  ExpectRejected(duplicate, "input 'dense': given more than once");
  for (const char* name : {"dense", "G", "G.lengths", "U"}) {
    auto missing = inputs;
    std::erase_if(missing, [&](const NamedTensor& t) { return t.name == name; });
    ExpectRejected(missing, std::string("input '") + name + "': missing");
  }
}

TEST(ModelInputs, RejectsWrongDatatypesAndShapes) {
  const auto inputs = BatchToModelInputs(TestBatch(true), TestSpec());
  auto wrong_type = inputs;
  Find(wrong_type, "U")->dtype = InputDType::kFp32;
  Find(wrong_type, "U")->fp32 = {1, 2, 3};
  ExpectRejected(wrong_type, "input 'U': expected datatype INT64, got FP32");

  auto size_mismatch = inputs;
  Find(size_mismatch, "U")->int64.push_back(1);
  ExpectRejected(size_mismatch, "input 'U': shape [3] holds 3 values, the data has 4");

  auto other_batch = inputs;
  Find(other_batch, "U")->shape = {4};
  Find(other_batch, "U")->int64.push_back(1);
  ExpectRejected(other_batch, "input 'U': expected shape [3], got [4]");

  auto rank = inputs;
  Find(rank, "dense")->shape = {6};
  ExpectRejected(rank, "input 'dense': expected a shape of rank 2, got [6]");

  auto width = inputs;
  Find(width, "dense")->shape = {2, 3};
  ExpectRejected(width, "input 'dense': expected shape [2, 2], got [2, 3]");

  auto negative = inputs;
  Find(negative, "U")->shape = {-3};
  ExpectRejected(negative, "input 'U': shape [-3] has a negative dimension");

  auto weights = inputs;
  Find(weights, "G.weights")->shape = {2};
  Find(weights, "G.weights")->fp32 = {1, 1};
  ExpectRejected(weights, "input 'G.weights': expected shape [3] (one weight per id of 'G')");
}

TEST(ModelInputs, RejectsIdsOutOfRangeAndBadLengths) {
  const auto inputs = BatchToModelInputs(TestBatch(false), TestSpec());
  auto high = inputs;
  Find(high, "U")->int64[1] = 5;
  ExpectRejected(high, "input 'U': id 5 at index 1 is outside [0, 5)");
  auto low = inputs;
  Find(low, "G")->int64[2] = -1;
  ExpectRejected(low, "input 'G': id -1 at index 2 is outside [0, 10)");

  auto short_sum = inputs;
  Find(short_sum, "G.lengths")->int64 = {1, 0, 1};
  ExpectRejected(short_sum, "input 'G.lengths': lengths sum to 2, but 'G' has 3 ids");
  auto long_sum = inputs;
  Find(long_sum, "G.lengths")->int64 = {2, 2, 1};
  ExpectRejected(long_sum, "input 'G.lengths': lengths sum to more than the 3 ids of 'G'");
  auto negative = inputs;
  Find(negative, "G.lengths")->int64 = {0, -1, 0};
  ExpectRejected(negative, "input 'G.lengths': length -1 at index 1 is negative");
  auto batch = inputs;
  Find(batch, "G.lengths")->int64 = {2, 0, 1, 0};
  Find(batch, "G.lengths")->shape = {4};
  ExpectRejected(batch, "input 'G.lengths': expected shape [3], got [4]");
}

TEST(ModelInputs, BatchThatDoesNotFitTheSpecIsRejected) {
  Batch b = TestBatch(false);
  b.sparse[1].ids = {4, 0, 3, 1};
  b.sparse[1].offsets = {0, 1, 2, 4};
  EXPECT_THROW(BatchToModelInputs(b, TestSpec()), InvalidArgument);
  Batch few = TestBatch(false);
  few.sparse.pop_back();
  EXPECT_THROW(BatchToModelInputs(few, TestSpec()), InvalidArgument);
  Batch narrow = TestBatch(false);
  narrow.dense = Tensor({3, 1});
  EXPECT_THROW(BatchToModelInputs(narrow, TestSpec()), InvalidArgument);
}

TEST(ModelInputs, JsonErrorsNameTheInputAndField) {
  using nlohmann::json;
  const json good = {{"name", "U"}, {"shape", {2}}, {"datatype", "INT64"}, {"data", {1, 2}}};
  EXPECT_EQ(ModelInputsFromJson(json::array({good})).size(), 1u);
  ExpectJsonRejected(json::object(), "inputs: expected an array, got object");
  ExpectJsonRejected(json::array({good, 3}), "inputs[1]: expected an object, got number");
  for (const char* key : {"name", "shape", "datatype", "data"}) {
    json j = good;
    j.erase(key);
    ExpectJsonRejected(json::array({j}), std::string("inputs[0]: missing field '") + key + "'");
  }
  json j = good;
  j["name"] = 7;
  ExpectJsonRejected(json::array({j}), "inputs[0].name: expected a non-empty string");
  j = good;
  j["shape"] = "2";
  ExpectJsonRejected(json::array({j}), "inputs[0].shape: expected an array, got string");
  j = good;
  j["shape"] = {-2};
  ExpectJsonRejected(json::array({j}), "inputs[0].shape[0]: expected a non-negative integer");
  j = good;
  j["datatype"] = "BYTES";
  ExpectJsonRejected(json::array({good, j}),
                     "inputs[1].datatype: expected FP32 or INT64, got 'BYTES'");
  j = good;
  j["data"] = {1, 2, 3};
  ExpectJsonRejected(json::array({j}), "inputs[0].data: shape [2] holds 2 values, got 3");
  j = good;
  j["data"] = {{1, 2}};
  ExpectJsonRejected(json::array({j}), "inputs[0].data: shape [2] holds 2 values, got 1");
  j = good;
  j["data"] = {1, 2.5};
  ExpectJsonRejected(json::array({j}), "inputs[0].data[1]: expected a 64-bit integer, got 2.5");
  j = good;
  j["data"] = {1, std::numeric_limits<uint64_t>::max()};
  ExpectJsonRejected(json::array({j}), "inputs[0].data[1]: expected a 64-bit integer");
  j = good;
  j["datatype"] = "FP32";
  j["data"] = {1, "x"};
  ExpectJsonRejected(json::array({j}), "inputs[0].data[1]: expected a number, got \"x\"");
  j = good;
  j["data"] = "12";
  ExpectJsonRejected(json::array({j}), "inputs[0].data: expected a flat array, got string");
}

}  // namespace
}  // namespace crank
