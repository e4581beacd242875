#!/usr/bin/env bash
# S-IntroVAE with the N(0, I) prior at the paper's full schedule (30000 iterations), 8 Gaussians, seed 0.
# Resumable: rerun the same command. (Seed 0 of `python examples/sweep.py toy2d-table1 --preset gauss-8gaussian`.)
set -euo pipefail
export EXP_LOG_PATH=${EXP_LOG_PATH:-$PWD/runs}
nice -n 10 python examples/sintrovae_2d.py --dataset 8Gaussian --prior imposed --seed 0
