// Must not compile: layers/ sits below data/ (readers, YAML) and may not include it.
#include "crank/data/batch_reader.h"
