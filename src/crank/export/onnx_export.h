#ifndef CRANK_EXPORT_ONNX_EXPORT_H_
#define CRANK_EXPORT_ONNX_EXPORT_H_

// Export of a Ranking model to one ONNX graph (docs/export.md), written with ONNX's generated
// protobuf classes.
//
// Graph inputs are the model-space inputs of data/model_inputs.h (ModelInputSpecs, plus
// "N.weights" of every multi-hot feature when weighted_ids), with a symbolic batch axis "batch"
// and a symbolic "N.nnz" per multi-hot feature; the one output "predictions" is FP32 [batch],
// after the output activation, as Ranking::Predict. Embedding bags use no Loop: Gather of the
// rows, example indices from N.lengths (ScatterElements + CumSum) and ScatterND with reduction
// "add" into zeros, so an empty bag pools to zeros as in crank; mean and sqrtn normalisers are
// computed in double as crank does. The dense transforms of the data mapping are not in the
// graph: the "dense" input is already transformed, as `crank map` writes it.
//
// Supported blocks: EmbeddingCollection, Mlp (bottom and top stacks), DotInteraction (every
// mode), CrossInteraction (full and low rank, diag_scale, any preactivation), ConcatInteraction.
// Any other block throws UnsupportedBlockError naming it; nothing is written then.

#include <cstdint>
#include <string>
#include <vector>

#include "crank/base/error.h"
#include "crank/data/data_spec.h"
#include "crank/model/ranking.h"

namespace crank {

// A block of the model has no ONNX form (a user-defined block). An InvalidArgument (exit 2).
class UnsupportedBlockError : public InvalidArgument {
 public:
  using InvalidArgument::InvalidArgument;
};

struct OnnxExportOptions {
  static constexpr int kMinOpset = 16;  // ScatterND / ScatterElements with reduction
  static constexpr int kMaxOpset = 17;  // the newest Debian's python3-onnx (1.12) checks
  // Initializers above this many bytes in total move to external data, largest (the tables)
  // first, until the rest fits: protobuf cannot serialise a message of 2 GiB or more.
  static constexpr int64_t kDefaultInlineLimit = (int64_t{1} << 31) - (int64_t{64} << 20);

  int opset = 17;  // in [kMinOpset, kMaxOpset]
  // Declare the optional "N.weights" input of every multi-hot feature (then required by the
  // graph; pass ones for unweighted ids).
  bool weighted_ids = false;
  int64_t inline_limit_bytes = kDefaultInlineLimit;  // >= 0; tests force a small value
  // Throws InvalidArgument naming the field.
  void Validate() const;
};

struct OnnxExportResult {
  int64_t ir_version = 0;
  int opset = 0;
  std::vector<std::string> inputs;    // graph input names, in order
  std::string external_data_path;     // empty when every initializer is in the model file
  std::vector<std::string> external;  // names of the initializers stored there
  int64_t model_bytes = 0;            // size of the .onnx file
  int64_t external_bytes = 0;         // size of the external data file
};

// Writes `model` (whose data spec is `spec`) to `path` as ONNX; tables that do not fit go to
// `path` + ".data" next to it (ONNX external data, location relative to the model). Both files
// are written atomically. Reads the model only (the non-const accessors are for the blocks'
// variables). Throws UnsupportedBlockError for a block with no ONNX form, InvalidArgument when
// the spec does not match the model, IoError when a file cannot be written.
OnnxExportResult ExportOnnx(Ranking& model, const DataSpec& spec, const std::string& path,
                            const OnnxExportOptions& options = {});

}  // namespace crank

#endif  // CRANK_EXPORT_ONNX_EXPORT_H_
