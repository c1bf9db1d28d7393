#include "crank/export/onnx_export.h"

#include <cxxabi.h>
#include <fmt/format.h>
#include <onnx/onnx_pb.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <numeric>
#include <string>
#include <typeinfo>
#include <vector>

#include "crank/data/model_inputs.h"
#include "crank/export/onnx_graph.h"
#include "crank/io/atomic_file.h"
#include "crank/layers/concat_interaction.h"
#include "crank/layers/cross.h"
#include "crank/layers/dot_interaction.h"
#include "crank/layers/embedding_collection.h"
#include "crank/layers/mlp.h"

namespace crank {
namespace {

using onnx_graph::GraphBuilder;
using onnx_graph::IntAttr;
using onnx_graph::IntsAttr;
using onnx_graph::StringAttr;
constexpr auto kFloat = onnx::TensorProto::FLOAT;
constexpr auto kInt64 = onnx::TensorProto::INT64;
constexpr auto kDouble = onnx::TensorProto::DOUBLE;
constexpr int64_t kIrVersion = 8;  // the IR version of opsets 16 and 17 (ONNX 1.11, 1.12)
constexpr int64_t kExternalAlignment = 4096;

std::string TypeName(const std::type_info& type) {
  int status = 0;
  std::unique_ptr<char, decltype(&std::free)> name(
      abi::__cxa_demangle(type.name(), nullptr, nullptr, &status), &std::free);
  return status == 0 && name ? std::string(name.get()) : std::string(type.name());
}

template <typename T>
[[noreturn]] void Unsupported(const char* block, const T& object, const char* supported) {
  throw UnsupportedBlockError(
      fmt::format("cannot export to ONNX: the {} is a {}, which has no ONNX form (supported: {})",
                  block, TypeName(typeid(object)), supported));
}

// Named constants shared by the graph (each created once).
class Constants {
 public:
  explicit Constants(GraphBuilder* g) : g_(g) {}
  std::string I64(const std::string& hint, std::vector<int64_t> v) {
    return g_->Int64s(hint, {static_cast<int64_t>(v.size())}, v);
  }
  const std::string& Axis0() {
    return Once(&axis0_, [&] { return I64("axis_0", {0}); });
  }
  const std::string& Axis1() {
    return Once(&axis1_, [&] { return I64("axis_1", {1}); });
  }
  const std::string& OneI64() {
    return Once(&one_i64_, [&] { return I64("one_i64", {1}); });
  }
  const std::string& ZeroI64() {
    return Once(&zero_i64_, [&] { return I64("zero_i64", {0}); });
  }
  // The axis input of CumSum (a scalar).
  const std::string& ScalarAxis0() {
    return Once(&scalar_axis0_, [&] { return g_->Int64s("scalar_axis_0", {}, {0}); });
  }
  const std::string& ZeroF() {
    return Once(&zero_f_, [&] {
      const float z = 0.0f;
      return g_->Floats("zero_f32", {1}, &z);
    });
  }
  const std::string& ZeroD() {
    return Once(&zero_d_, [&] { return g_->Doubles("zero_f64", {1}, {0.0}); });
  }
  const std::string& OneD() {
    return Once(&one_d_, [&] { return g_->Doubles("one_f64", {1}, {1.0}); });
  }

 private:
  template <typename F>
  const std::string& Once(std::string* slot, F make) {
    if (slot->empty()) *slot = make();
    return *slot;
  }
  GraphBuilder* g_;
  std::string axis0_, axis1_, scalar_axis0_, one_i64_, zero_i64_, zero_f_, zero_d_, one_d_;
};

std::string Activate(GraphBuilder& g, Activation a, const std::string& x, const std::string& hint) {
  switch (a) {
    case Activation::kLinear:
      return x;
    case Activation::kRelu:
      return g.Op("Relu", {x}, hint);
    case Activation::kSigmoid:
      return g.Op("Sigmoid", {x}, hint);
  }
  return x;
}

// x: [B, in] -> [B, units.back()]: one Gemm (or MatMul without bias) and activation per layer.
std::string ExportMlp(GraphBuilder& g, Block& block, const char* what, const std::string& x) {
  auto* mlp = dynamic_cast<Mlp*>(&block);
  if (mlp == nullptr) Unsupported(what, block, "Mlp");
  std::string h = x;
  for (int i = 0; i < mlp->num_layers(); ++i) {
    Linear& layer = mlp->layer(i);
    const Tensor& kernel = layer.kernel().value;  // (I, O)
    const std::string w = g.Floats(layer.name() + "/kernel", kernel.shape(), kernel.data());
    if (Variable* bias = layer.bias()) {
      const std::string b =
          g.Floats(layer.name() + "/bias", bias->value.shape(), bias->value.data());
      h = g.Op("Gemm", {h, w, b}, layer.name());
    } else {
      h = g.Op("MatMul", {h, w}, layer.name());
    }
    h = Activate(g, layer.options().activation, h, layer.name() + "/act");
  }
  return h;
}

// One multi-hot feature's bag pooling without Loop: rows = table[ids] (times the weights),
// example index of each id from the lengths, ScatterND-add into zeros, then the normaliser.
std::string PoolBags(GraphBuilder& g, Constants& c, const std::string& name,
                     const std::string& table, int64_t dim, Pooling pooling,
                     const std::string& weights) {
  const std::string ids = name, lengths = name + ".lengths";
  std::string rows =
      g.Op("Gather", {table, ids}, name + "/rows", {IntAttr("axis", 0)});  // [nnz, E]
  if (!weights.empty()) {
    const std::string w = g.Op("Unsqueeze", {weights, c.Axis1()}, name + "/weights_col");
    rows = g.Op("Mul", {rows, w}, name + "/weighted_rows");
  }
  // seg[k] = the example that owns position k: count the bag starts at or before k. A bag start
  // is marked once per example (empty bags share the next bag's start; the positions of the
  // last, empty bags are nnz and fall off the end), so seg = cumsum(marks)[:nnz] - 1.
  const std::string nnz = g.Op("Shape", {ids}, name + "/nnz");      // [1]
  const std::string batch = g.Op("Shape", {lengths}, name + "/b");  // [1]
  const std::string ends = g.Op("CumSum", {lengths, c.ScalarAxis0()}, name + "/ends");
  const std::string starts = g.Op("Sub", {ends, lengths}, name + "/starts");
  const std::string nnz1 = g.Op("Add", {nnz, c.OneI64()}, name + "/nnz_plus_1");
  const std::string zeros = g.Op("Expand", {c.ZeroI64(), nnz1}, name + "/zero_marks");
  const std::string ones = g.Op("Expand", {c.OneI64(), batch}, name + "/ones");
  const std::string marks = g.Op("ScatterElements", {zeros, starts, ones}, name + "/marks",
                                 {IntAttr("axis", 0), StringAttr("reduction", "add")});
  const std::string count = g.Op("CumSum", {marks, c.ScalarAxis0()}, name + "/starts_seen");
  const std::string seg_all = g.Op("Sub", {count, c.OneI64()}, name + "/seg_all");
  const std::string seg = g.Op("Slice", {seg_all, c.ZeroI64(), nnz, c.Axis0()}, name + "/seg");
  const std::string seg_col = g.Op("Unsqueeze", {seg, c.Axis1()}, name + "/seg_col");  // [nnz, 1]
  const std::string out_shape = g.Op("Concat", {batch, c.I64(name + "/dim", {dim})},
                                     name + "/out_shape", {IntAttr("axis", 0)});
  const std::string zero_out = g.Op("Expand", {c.ZeroF(), out_shape}, name + "/zeros");
  std::string pooled = g.Op("ScatterND", {zero_out, seg_col, rows}, name + "/sum",
                            {StringAttr("reduction", "add")});  // [B, E], positions in order
  if (pooling == Pooling::kSum) return pooled;
  // The normaliser in double, as kernels/embedding_bag.cc: count or sum w (mean), their square
  // roots or sqrt(sum w^2) (sqrtn); scale = 1 / norm, 0 where norm is 0 (an empty bag).
  std::string norm;
  if (weights.empty()) {
    norm = g.Op("Cast", {lengths}, name + "/count", {IntAttr("to", kDouble)});
  } else {
    std::string w = g.Op("Cast", {weights}, name + "/weights_f64", {IntAttr("to", kDouble)});
    if (pooling == Pooling::kSqrtn) w = g.Op("Mul", {w, w}, name + "/weights_sq");
    const std::string zero_b = g.Op("Expand", {c.ZeroD(), batch}, name + "/zero_norm");
    norm = g.Op("ScatterElements", {zero_b, seg, w}, name + "/weight_sum",
                {IntAttr("axis", 0), StringAttr("reduction", "add")});
  }
  if (pooling == Pooling::kSqrtn) norm = g.Op("Sqrt", {norm}, name + "/sqrt_norm");
  const std::string positive = g.Op("Greater", {norm, c.ZeroD()}, name + "/nonempty");
  const std::string inverse = g.Op("Div", {c.OneD(), norm}, name + "/inverse");
  const std::string scale64 = g.Op("Where", {positive, inverse, c.ZeroD()}, name + "/scale_f64");
  const std::string scale = g.Op("Cast", {scale64}, name + "/scale", {IntAttr("to", kFloat)});
  const std::string scale_col = g.Op("Unsqueeze", {scale, c.Axis1()}, name + "/scale_col");
  return g.Op("Mul", {pooled, scale_col}, name + "/pooled");
}

// The float (V, E) table of `table` in the graph: an fp32 table as a FLOAT initializer; an fp16
// one as its FLOAT16 initializer and a Cast to float (ONNX Runtime folds it at load); a bf16 one
// widened to a FLOAT initializer (ONNX Runtime's CPU provider has no bfloat16 Gather).
std::string ExportTable(GraphBuilder& g, const std::string& name, const Variable& table) {
  const std::string hint = "embedding/" + name;
  switch (table.precision) {
    case EmbeddingPrecision::kFp32:
      return g.Floats(hint, table.value.shape(), table.value.data());
    case EmbeddingPrecision::kFp16:
      return g.Op("Cast", {g.Halves(hint, table.value16.shape(), table.value16.data())},
                  hint + "/float", {IntAttr("to", onnx::TensorProto::FLOAT)});
    case EmbeddingPrecision::kBf16:
      break;
  }
  std::vector<float> widened(static_cast<size_t>(table.size()));
  WidenRow(table.precision, table.value16.data(), table.size(), widened.data());
  return g.Floats(hint, table.shape(), widened.data());
}

std::vector<std::string> ExportEmbeddings(GraphBuilder& g, Constants& c, EmbeddingLayer& layer,
                                          const DataSpec& spec, bool weighted_ids) {
  auto* collection = dynamic_cast<EmbeddingCollection*>(&layer);
  if (collection == nullptr) Unsupported("embedding layer", layer, "EmbeddingCollection");
  const std::vector<std::string>& names = collection->FeatureNames();
  CRANK_REQUIRE(names.size() == spec.sparse.size(),
                "ONNX export: the model has {} sparse features, its data spec {}", names.size(),
                spec.sparse.size());
  const std::vector<TableConfig>& tables = collection->tables();
  const std::vector<Variable*> variables = collection->Variables();
  std::vector<std::string> table_names(tables.size());
  std::vector<std::string> outputs;
  for (size_t f = 0; f < names.size(); ++f) {
    const SparseFeatureSpec& fs = spec.sparse[f];
    CRANK_REQUIRE(names[f] == fs.name,
                  "ONNX export: model feature {} is '{}', the data spec's '{}'", f, names[f],
                  fs.name);
    const FeatureConfig& fc = collection->features()[f];
    const size_t t = static_cast<size_t>(
        std::find_if(tables.begin(), tables.end(),
                     [&](const TableConfig& tc) { return tc.name == fc.table; }) -
        tables.begin());
    CRANK_CHECK(t < tables.size());
    const Variable& table = *variables[t];
    const std::vector<int64_t>& shape = table.shape();  // (V, E)
    CRANK_REQUIRE(shape[0] >= fs.vocabulary_size,
                  "ONNX export: feature '{}' has ids below {} but its table has {} rows", fs.name,
                  fs.vocabulary_size, shape[0]);
    if (table_names[t].empty()) table_names[t] = ExportTable(g, tables[t].name, table);
    if (!fs.multi_hot) {
      // One id per example: every pooling gives the row itself (scale 1).
      outputs.push_back(
          g.Op("Gather", {table_names[t], fs.name}, fs.name + "/embedding", {IntAttr("axis", 0)}));
      continue;
    }
    outputs.push_back(PoolBags(g, c, fs.name, table_names[t], shape[1], fc.pooling,
                               weighted_ids ? fs.name + ".weights" : std::string()));
  }
  return outputs;
}

// features: F + 1 tensors [B, E] -> the gathered entries of Z = T T^T (kernels/dot_interaction.h).
std::string ExportDot(GraphBuilder& g, Constants& c, const DotInteraction& dot,
                      const std::vector<std::string>& features) {
  const int64_t n = static_cast<int64_t>(features.size());
  std::vector<std::string> columns;
  for (const std::string& f : features) {
    columns.push_back(g.Op("Unsqueeze", {f, c.Axis1()}, f + "/row"));
  }
  const std::string t = g.Op("Concat", columns, "interaction/stacked", {IntAttr("axis", 1)});
  const std::string tt =
      g.Op("Transpose", {t}, "interaction/stacked_t", {IntsAttr("perm", {0, 2, 1})});
  const std::string z = g.Op("MatMul", {t, tt}, "interaction/z");  // [B, n, n]
  const std::string flat =
      g.Op("Reshape", {z, c.I64("interaction/flat_shape", {0, n * n})}, "interaction/z_flat");
  const bool self = dot.options().self_interaction;
  std::vector<int64_t> gathered;
  std::vector<bool> mask(static_cast<size_t>(n * n), false);
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < (self ? i + 1 : i); ++j) {
      gathered.push_back(i * n + j);
      mask[static_cast<size_t>(i * n + j)] = true;
    }
  }
  if (dot.options().skip_gather) {
    const std::string m = g.Bools("interaction/mask", {n * n}, mask);
    return g.Op("Where", {m, flat, c.ZeroF()}, "interaction/out");
  }
  const std::string idx =
      g.Int64s("interaction/lower_triangle", {static_cast<int64_t>(gathered.size())}, gathered);
  return g.Op("Gather", {flat, idx}, "interaction/out", {IntAttr("axis", 1)});
}

// x0 = the features side by side; x_{l+1} = x0 * (act(x_l W + b) + diag * x_l) + x_l.
std::string ExportCross(GraphBuilder& g, CrossInteraction& cross,
                        const std::vector<std::string>& features) {
  const std::string x0 = g.Op("Concat", features, "interaction/x0", {IntAttr("axis", 1)});
  std::string x = x0;
  const CrossOptions& o = cross.options().cross;
  for (int l = 0; l < cross.options().num_layers; ++l) {
    Cross& layer = cross.layer(l);
    const std::vector<Variable*> vars = layer.Variables();
    const std::string& name = layer.name();
    std::string z;
    size_t next = 0;
    if (o.projection_dim.has_value()) {
      const Variable* u = vars[next++];
      const Variable* v = vars[next++];
      const std::string un = g.Floats(u->name, u->value.shape(), u->value.data());
      const std::string vn = g.Floats(v->name, v->value.shape(), v->value.data());
      z = g.Op("MatMul", {g.Op("MatMul", {x, un}, name + "/hidden"), vn}, name + "/z");
    } else {
      const Variable* k = vars[next++];
      z = g.Op("MatMul", {x, g.Floats(k->name, k->value.shape(), k->value.data())}, name + "/z");
    }
    if (o.use_bias) {
      const Variable* b = vars[next++];
      z = g.Op("Add", {z, g.Floats(b->name, b->value.shape(), b->value.data())}, name + "/z_bias");
    }
    std::string prod = Activate(g, o.preactivation, z, name + "/act");
    if (o.diag_scale != 0.0f) {
      const float d = o.diag_scale;
      const std::string scaled =
          g.Op("Mul", {g.Floats(name + "/diag_scale", {1}, &d), x}, name + "/diag");
      prod = g.Op("Add", {prod, scaled}, name + "/prod");
    }
    x = g.Op("Add", {g.Op("Mul", {x0, prod}, name + "/x0_prod"), x}, name + "/out");
  }
  return x;
}

std::string ExportInteraction(GraphBuilder& g, Constants& c, FeatureInteraction& interaction,
                              const std::vector<std::string>& features) {
  if (const auto* dot = dynamic_cast<const DotInteraction*>(&interaction)) {
    return ExportDot(g, c, *dot, features);
  }
  if (auto* cross = dynamic_cast<CrossInteraction*>(&interaction)) {
    return ExportCross(g, *cross, features);
  }
  if (dynamic_cast<const ConcatInteraction*>(&interaction) != nullptr) {
    return g.Op("Concat", features, "interaction/out", {IntAttr("axis", 1)});
  }
  Unsupported("feature interaction", interaction,
              "DotInteraction, CrossInteraction, ConcatInteraction");
}

// Moves the largest initializers to external data until the rest fits inline_limit; returns
// the bytes to write to the external file.
std::string MoveToExternalData(onnx::GraphProto* graph, int64_t inline_limit,
                               const std::string& location, OnnxExportResult* result) {
  int64_t total = 0;
  std::vector<int> order;
  for (int i = 0; i < graph->initializer_size(); ++i) {
    total += static_cast<int64_t>(graph->initializer(i).ByteSizeLong());
    order.push_back(i);
  }
  std::string data;
  if (total <= inline_limit) return data;
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    return graph->initializer(a).raw_data().size() > graph->initializer(b).raw_data().size();
  });
  for (const int i : order) {
    if (total <= inline_limit) break;
    onnx::TensorProto* t = graph->mutable_initializer(i);
    if (t->raw_data().empty()) break;  // only raw (float) tables and weights move
    const int64_t before = static_cast<int64_t>(t->ByteSizeLong());
    const int64_t offset = (static_cast<int64_t>(data.size()) + kExternalAlignment - 1) /
                           kExternalAlignment * kExternalAlignment;
    data.resize(static_cast<size_t>(offset), '\0');
    data += t->raw_data();
    const int64_t length = static_cast<int64_t>(t->raw_data().size());
    t->clear_raw_data();
    t->set_data_location(onnx::TensorProto::EXTERNAL);
    const auto add = [t](const std::string& key, const std::string& value) {
      onnx::StringStringEntryProto* e = t->add_external_data();
      e->set_key(key);
      e->set_value(value);
    };
    add("location", location);
    add("offset", std::to_string(offset));
    add("length", std::to_string(length));
    total -= before - static_cast<int64_t>(t->ByteSizeLong());
    result->external.push_back(t->name());
  }
  return data;
}

void WriteFile(const std::string& path, const std::string& bytes) {
  AtomicFileWriter out(path);
  out.Append(bytes.data(), bytes.size());
  out.Commit();
}

}  // namespace

void OnnxExportOptions::Validate() const {
  if (opset < kMinOpset || opset > kMaxOpset) {
    throw InvalidArgument(
        fmt::format("opset: expected {} to {}, got {}", kMinOpset, kMaxOpset, opset));
  }
  if (inline_limit_bytes < 0) {
    throw InvalidArgument(
        fmt::format("inline_limit_bytes: expected >= 0, got {}", inline_limit_bytes));
  }
}

OnnxExportResult ExportOnnx(Ranking& model, const DataSpec& spec, const std::string& path,
                            const OnnxExportOptions& options) {
  options.Validate();
  CRANK_REQUIRE(model.dense_features() == spec.num_dense(),
                "ONNX export: the model has {} dense features, its data spec {}",
                model.dense_features(), spec.num_dense());
  OnnxExportResult result;
  result.ir_version = kIrVersion;
  result.opset = options.opset;

  onnx::ModelProto proto;
  proto.set_ir_version(kIrVersion);
  proto.set_producer_name("crank");
  proto.set_producer_version("0.1.0");
  proto.set_doc_string(
      "crank Ranking model: embeddings, bottom stack, feature interaction, top stack, output "
      "activation. Inputs are model-space tensors (docs/export.md).");
  onnx::OperatorSetIdProto* opset = proto.add_opset_import();
  opset->set_domain("");
  opset->set_version(options.opset);
  onnx::GraphProto* graph = proto.mutable_graph();
  graph->set_name("crank_ranking");
  GraphBuilder g(graph);
  Constants c(&g);

  for (const InputSpec& in : ModelInputSpecs(spec)) {
    const int f = spec.SparseIndex(in.name);
    const bool bag_ids = f >= 0 && spec.sparse[static_cast<size_t>(f)].multi_hot;
    g.Input(in.name, in.dtype == InputDType::kFp32 ? kFloat : kInt64, in.shape,
            {bag_ids ? in.name + ".nnz" : "batch"});
    result.inputs.push_back(in.name);
    const std::string suffix = ".lengths";
    if (options.weighted_ids && in.name.size() > suffix.size() && in.name.ends_with(suffix)) {
      // "N.weights" after "N.lengths": one weight per id of N.
      const std::string feature = in.name.substr(0, in.name.size() - suffix.size());
      const InputSpec w = OptionalWeightsSpec(feature);
      g.Input(w.name, kFloat, w.shape, {feature + ".nnz"});
      result.inputs.push_back(w.name);
    }
  }

  std::vector<std::string> features =
      ExportEmbeddings(g, c, model.embedding(), spec, options.weighted_ids);
  // No dense features: no bottom stack (and no `dense` input); no sparse features: no
  // interaction, the bottom output is the top stack's input.
  std::string bottom;
  if (model.has_bottom_stack()) {
    bottom = ExportMlp(g, model.bottom_stack(), "bottom stack", "dense");
    features.push_back(bottom);
  }
  std::string top_in = bottom;
  if (model.has_interaction()) {
    const std::string interaction = ExportInteraction(g, c, model.feature_interaction(), features);
    top_in = interaction;
    if (model.concat_dense()) {
      top_in = g.Op("Concat", {bottom, interaction}, "top_in", {IntAttr("axis", 1)});
    }
  }
  const std::string top = ExportMlp(g, model.top_stack(), "top stack", top_in);
  const std::string logits = g.Op("Squeeze", {top, c.Axis1()}, "logits");
  const std::string predictions = model.output_activation() == Activation::kSigmoid
                                      ? g.Op("Sigmoid", {logits}, "predictions")
                                      : g.Op("Identity", {logits}, "predictions");
  g.Output(predictions, kFloat, {-1}, {"batch"});

  const std::string data_path = path + ".data";
  const std::string data =
      MoveToExternalData(graph, options.inline_limit_bytes,
                         std::filesystem::path(data_path).filename().string(), &result);
  std::string bytes;
  if (!proto.SerializeToString(&bytes)) {
    throw IoError(fmt::format("cannot write {}: the ONNX model does not serialise ({} bytes)", path,
                              proto.ByteSizeLong()));
  }
  std::error_code ec;
  if (!result.external.empty()) {
    WriteFile(data_path, data);
    result.external_data_path = data_path;
    result.external_bytes = static_cast<int64_t>(data.size());
  } else if (std::filesystem::exists(data_path, ec)) {
    std::filesystem::remove(data_path, ec);  // a stale file of an earlier export
  }
  WriteFile(path, bytes);
  result.model_bytes = static_cast<int64_t>(bytes.size());
  return result;
}

}  // namespace crank
