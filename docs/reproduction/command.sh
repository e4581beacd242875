#!/usr/bin/env bash
# The reduced reproduction of the Pareto figure that ran on the 2-core CPU machine (summarised in the
# README section "Results"; every detail in docs/reproduction.md). 12 epochs per run instead of 5000.
# Run from the repository root. EXP_LOG_PATH defaults to runs/reduced.
#
# The committed run chose its LagVAE levels from a pilot: e1 = the pilot InfoVAE run's (mi=+1, lambda1=10,
# lambda2=1) train -ELBO after 12 epochs (138.4) -15 and +15, rounded: 123 (infeasible at this budget) and
# 153 (feasible). The sweep's `cpu-small` preset holds exactly those six runs (utils/sweeps/experiments.py).
set -euo pipefail
export EXP_LOG_PATH=${EXP_LOG_PATH:-$PWD/runs/reduced}
export DATA_PREFIX=${DATA_PREFIX:-../shared/data}
EPOCHS=${EPOCHS:-12}
PY=".venv/bin/python"

# 1. The six runs (InfoVAE mi=+1 l1=10 l2=1 and mi=-1 l1=1 l2=1; LagVAE mi=+-1 x e1 in {123, 153}, e2=5),
#    one at a time on the CPU.
nice -n 10 $PY examples/sweep.py pareto --preset cpu-small --epochs "$EPOCHS" --devices cpu --cpus-per-trial 2

# 2. The figure (rate on the y-axis) and the MI diagnostics.
$PY examples/pareto_figure.py --out docs/reproduction/pareto --title "reduced reproduction: $EPOCHS epochs per run (paper: 5000)"
nice -n 10 $PY examples/evaluate.py --device cpu
$PY examples/pareto_figure.py --out docs/reproduction/pareto_gaussian --estimator gaussian --no-paper \
    --title "diagnostic: Gaussian-marginal MI estimate, $EPOCHS epochs per run"
# 3. The same runs without the paper points (their scale hides the differences between the runs).
$PY examples/pareto_figure.py --out docs/reproduction/pareto_zoom --no-paper --title "reduced reproduction: $EPOCHS epochs per run, without the paper points"
