// Must not compile: layers/ may not include the training loop.
#include "crank/train/trainer.h"
