"""LagVAE on binarised MNIST (legacy examples/lagvae.py): learned Lagrange multipliers for the constraints
-ELBO <= e1 and 1e4 MMD(q(z), p(z)) <= e2, with mutual-information preference mi.

    python examples/lagvae.py --mi=1.0 --e1=86.0 --e2=5.0          # train 5000 epochs, then evaluate
    python examples/lagvae.py --mi=1.0 --e1=86.0 --e2=5.0 --test   # restore and evaluate again

Writes $EXP_LOG_PATH/lvae/v1/{z_dim}/{mi}-{e1}-{e2}/ (see the README section "LagVAE and InfoVAE").
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.flags import FiniteFloat  # noqa: E402
from utils.training.legacy import legacy_command  # noqa: E402


def build_model(**kwargs):
    from methods.lagvae import LagrangianVAE
    return LagrangianVAE(**kwargs)


E1_OPTION = click.option("--e1", type=FiniteFloat(min=0.0, min_open=True), default=88.0, show_default=True,
                       help="constraint level for -ELBO in nats (> 0: -ELBO of binary data is positive)")
E2_OPTION = click.option("--e2", type=FiniteFloat(min=0.0), default=8.0, show_default=True,
                       help="constraint level for 1e4 x MMD (>= 0; the sampling floor is about 2.46)")

main = legacy_command(build_model, "lvae", E1_OPTION, E2_OPTION)

if __name__ == "__main__":
    main()
