#!/usr/bin/env bash
# The main job on built-in data: train DLRM on synthetic data and evaluate it.
set -euo pipefail
build=${1:-build}
"$build/bin/dlrm_example"
