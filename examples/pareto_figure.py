"""Draw the "Mutual Information vs Consistency" figure (Train / Test panels, as the repo's lagvae.jpg) from
every finished run under EXP_LOG_PATH (lvae/v1/... and infovae/v1/...), with the paper's points read from
docs/paper_points.csv and, optionally, the runs of a legacy EXP_LOG_PATH overlaid.

    EXP_LOG_PATH=runs python examples/pareto_figure.py --out docs/reproduction/pareto
writes pareto.png and pareto.csv (one row per run and split).
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.plumbing.paths import exp_log_path  # noqa: E402
from utils.figures.pareto import ESTIMATORS, read_paper_points, run_points, write_figure  # noqa: E402


@click.command()
@click.option("--logs", type=click.Path(file_okay=False), default=None,
              help="Folder of the runs (default: $EXP_LOG_PATH).")
@click.option("--legacy-logs", type=click.Path(exists=True, file_okay=False), default=None,
              help="A second EXP_LOG_PATH with legacy TF1 runs (eval.pkl) to overlay.")
@click.option("--out", default="pareto", show_default=True,
              help="Output path without extension: writes OUT.png and OUT.csv.")
@click.option("--estimator", type=click.Choice(sorted(ESTIMATORS)), default="rate", show_default=True,
              help="MI estimate on the y-axis: the rate `*_elbo` (the inferred reading of the paper) or a "
                   "diagnostic written by examples/evaluate.py.")
@click.option("--paper/--no-paper", default=True, show_default=True,
              help="Overlay the paper's points (docs/paper_points.csv, read by eye, +-0.3 nats).")
@click.option("--title", default=None, help="A note above the panels (e.g. the epoch budget).")
@exit_on_user_error
def main(logs, legacy_logs, out, estimator, paper, title):
    root = logs if logs else exp_log_path()
    points = run_points(root, "ours", estimator)
    if legacy_logs:
        points += run_points(legacy_logs, "legacy", estimator)
    if not points:
        raise UserError("no finished run (eval.pkl) under %s/lvae/v1 or %s/infovae/v1: run examples/sweep.py pareto "
                        "first, or pass --logs." % (root, root))
    plotted = write_figure(points, out + ".png", out + ".csv", read_paper_points() if paper else None,
                           estimator, title)
    runs = len({(p["source"], p["path"]) for p in points})
    print("%d runs, %d points plotted (estimator: %s) -> %s.png, %s.csv" % (runs, plotted, estimator, out, out))


if __name__ == "__main__":
    main()
