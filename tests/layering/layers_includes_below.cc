// Must compile: layers/ includes what it depends on (kernels, tensor, base).
#include "crank/base/error.h"
#include "crank/kernels/linear.h"
#include "crank/layers/block.h"
#include "crank/tensor/batch.h"
