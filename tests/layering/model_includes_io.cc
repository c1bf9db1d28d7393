// Must not compile: model/ sits below io/.
#include "crank/io/checkpoint.h"
