#!/usr/bin/env bash
# The reduced reproduction of the Pareto figure that ran on the 2-core CPU machine (see the README section
# "Evaluation, the Pareto figure, sweeps and legacy runs"). 12 epochs per run instead of 5000.
# Run from the repository root. EXP_LOG_PATH defaults to runs/reduced.
set -euo pipefail
export EXP_LOG_PATH=${EXP_LOG_PATH:-$PWD/runs/reduced}
export DATA_PREFIX=${DATA_PREFIX:-../shared/data}
EPOCHS=${EPOCHS:-12}
PY=".venv/bin/python"
SWEEP="nice -n 10 $PY examples/sweep.py --epochs $EPOCHS --devices cpu --cpu-slots 1"

# 1. InfoVAE (fixed multipliers). The first run (mi=+1, lambda1=10: KL weight 10/11) is also the pilot
#    whose train -ELBO sets the LagVAE constraint levels below.
$SWEEP --method infovae --infovae-mi 1 --infovae-l1 10 --infovae-l2 1
$SWEEP --method infovae --infovae-mi -1 --infovae-l1 1 --infovae-l2 1

# 2. LagVAE, mi = +1 / -1 (upper / lower branch), e2 = 5, and e1 = pilot -ELBO -15 (infeasible at this
#    budget: lambda1 must rise) and +15 (feasible: lambda1 must fall).
read E1_LOW E1_HIGH < <($PY -c "
import pickle; ev = pickle.load(open('$EXP_LOG_PATH/infovae/v1/64/1.0-10.0-1.0/eval.pkl', 'rb'))
c = round(float(ev['train_nll'] + ev['train_elbo'])); print(c - 15, c + 15)")
echo "pilot-derived e1 levels: $E1_LOW $E1_HIGH"
$SWEEP --method lagvae --lagvae-mi 1,-1 --e1 "$E1_LOW,$E1_HIGH" --e2 5

# 3. The figure (rate on the y-axis) and the MI diagnostics.
$PY examples/pareto_figure.py --out docs/reproduction/pareto --title "reduced reproduction: $EPOCHS epochs per run (paper: 5000)"
nice -n 10 $PY examples/evaluate.py --device cpu
$PY examples/pareto_figure.py --out docs/reproduction/pareto_gaussian --estimator gaussian --no-paper \
    --title "diagnostic: Gaussian-marginal MI estimate, $EPOCHS epochs per run"
# 4. The same runs without the paper points (their scale hides the differences between the runs).
$PY examples/pareto_figure.py --out docs/reproduction/pareto_zoom --no-paper --title "reduced reproduction: $EPOCHS epochs per run, without the paper points"
