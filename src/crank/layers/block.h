#ifndef CRANK_LAYERS_BLOCK_H_
#define CRANK_LAYERS_BLOCK_H_

// The interface of a dense block: the bottom and top stacks of the Ranking model, or any
// user-defined replacement for them. A block maps (B, in) -> (B, out).
//
// Lifecycle: construct with its own options, then Build(in, rng) once (creates and initialises
// variables, returns `out`), then any number of Forward / Backward pairs. Forward caches what
// Backward needs (the block owns its caches), so Backward refers to the latest Forward.
//
// Thread-safety: Build, Forward, Backward and changing the variables need exclusive access.
// Predict is const: any number of threads may call it at once on one built block, each with its
// own output and InferenceScratch, while no thread changes the block.

#include <cstdint>
#include <vector>

#include "crank/base/rng.h"
#include "crank/layers/inference_scratch.h"
#include "crank/layers/variable.h"
#include "crank/tensor/tensor.h"

namespace crank {

class Block {
 public:
  virtual ~Block() = default;

  // Creates variables for inputs of width `input_dim` and returns the output width.
  // Throws InvalidArgument if the block cannot take that width.
  virtual int64_t Build(int64_t input_dim, Rng& rng) = 0;

  // x: (B, in) -> *y: (B, out). `training` is false for eval/predict (no caches needed then).
  virtual void Forward(const Tensor& x, Tensor* y, bool training) = 0;

  // As Forward, except that with `training` the block may keep a reference to x for Backward
  // instead of a copy: the caller keeps x alive and unchanged until the next Backward. The
  // results are Forward's, bit for bit. The default copies (calls Forward).
  virtual void ForwardBorrowed(const Tensor& x, Tensor* y, bool training) {
    Forward(x, y, training);
  }

  // Inference: x: (B, in) -> *y: (B, out), resized; y must not be x. Reads the variables only and
  // keeps its intermediates in *scratch (caller-owned, one per thread); the values equal
  // Forward(x, y, false) bit for bit. Throws as Forward does on a bad input.
  virtual void Predict(const Tensor& x, Tensor* y, InferenceScratch* scratch) const = 0;

  // Prepares Predict for a block that inference will only read (a loaded model): e.g. keeps
  // weights in the form its products use (Linear keeps its kernel rounded to bf16), so that
  // Predict does not convert them on every call. Predict's results do not change. Whatever it
  // keeps is dropped by the block when its variables may change (its own contract says how);
  // the default keeps nothing.
  virtual void PrepareInference() {}

  // dy: (B, out) -> *dx: (B, in) (overwritten; dx may be nullptr when not needed).
  // Accumulates into the gradients of Variables().
  virtual void Backward(const Tensor& dy, Tensor* dx) = 0;

  // The block's trainable variables (stable pointers, valid for the block's lifetime).
  virtual std::vector<Variable*> Variables() = 0;
};

}  // namespace crank

#endif  // CRANK_LAYERS_BLOCK_H_
