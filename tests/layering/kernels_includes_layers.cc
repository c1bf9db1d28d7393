// Must not compile: kernels/ (stateless math) may not include layers/.
#include "crank/layers/linear.h"
