#!/usr/bin/env bash
# The 40-epoch LagVAE / InfoVAE frontier that ran on the 2-core CPU (resumable: rerun the same command).
set -euo pipefail
export EXP_LOG_PATH=${EXP_LOG_PATH:-$PWD/runs/frontier40} DATA_PREFIX=${DATA_PREFIX:-../shared/data}
nice -n 5 python examples/sweep.py pareto --preset cpu-frontier40 --devices cpu --cpus-per-trial 2
cp "$EXP_LOG_PATH"/tables/pareto-cpu-frontier40.* docs/reproduction/frontier40/
