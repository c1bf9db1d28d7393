// Must not compile: dist/ sits below train/.
#include "crank/train/trainer.h"
