#!/usr/bin/env bash
# S-IntroVAE with the N(0, I) prior at the paper's full schedule (30000 iterations), 8 Gaussians, seed 0 (this
# folder), seeds 1 and 2 (seed1/, seed2/); toy2d-table1-gauss-8gaussian.{md,csv} is the table of the finished seeds.
# Resumable: rerun the same command. (Seed 0 of `python examples/sweep.py toy2d-table1 --preset gauss-8gaussian`.)
set -euo pipefail
export EXP_LOG_PATH=${EXP_LOG_PATH:-$PWD/runs}
nice -n 10 python examples/sintrovae_2d.py --dataset 8Gaussian --prior imposed --seed 0
# seeds 1 and 2, then the table (rerun to resume):
# nice -n 19 python examples/sweep.py toy2d-table1 --preset gauss-8gaussian --devices cpu --seeds 1,2
# python examples/sweep.py toy2d-table1 --preset gauss-8gaussian --tables-only
