"""InfoVAE on binarised MNIST (legacy examples/infovae.py): the LagVAE objective with FIXED multipliers
lambda1 = e1, lambda2 = e2 and mutual-information preference mi.

    python examples/infovae.py --mi=1.0 --e1=1.0 --e2=1.0          # train 5000 epochs, then evaluate
    python examples/infovae.py --mi=1.0 --e1=1.0 --e2=1.0 --test   # restore and evaluate again

Writes $EXP_LOG_PATH/infovae/v1/{z_dim}/{mi}-{e1}-{e2}/ (see the README section "LagVAE and InfoVAE").
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
    from methods.infovae import InfoVAE
    return InfoVAE(**kwargs)


E1_OPTION = click.option("--e1", type=FiniteFloat(min=0.0), default=1.0, show_default=True,
                       help="fixed multiplier lambda1 of -ELBO (>= 0; a negative weight makes the loss unbounded)")
E2_OPTION = click.option("--e2", type=FiniteFloat(min=0.0), default=0.0, show_default=True,
                       help="fixed multiplier lambda2 of 1e4 x MMD (>= 0)")

main = legacy_command(build_model, "infovae", E1_OPTION, E2_OPTION)

if __name__ == "__main__":
    main()
