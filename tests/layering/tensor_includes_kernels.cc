// Must not compile: tensor/ sits below kernels/.
#include "crank/kernels/gemm.h"
