"""The papers' experiments as sweeps on Ray, on this machine or on a Ray cluster.

    EXP_LOG_PATH=runs python examples/sweep.py pareto                     # UAI 2018 figure: 70 runs x 5000 epochs
    EXP_LOG_PATH=runs python examples/sweep.py pareto --preset cpu-small  # a reduced grid for a 2-core CPU
    EXP_LOG_PATH=runs python examples/sweep.py toy2d-table1               # TMLR 2025 Table 1 (grid search, 5 seeds)
    EXP_LOG_PATH=runs python examples/sweep.py images-ablation --dry-run  # list the commands
    EXP_LOG_PATH=runs python examples/sweep.py toy2d-table1 --tables-only # the table of what has finished
    EXP_LOG_PATH=runs python examples/sweep.py hparams                    # HParams of runs made by hand

Without a cluster an embedded local Ray runs one trial per GPU (else one per `--cpus-per-trial` cores); with
`--address` or RAY_ADDRESS the same command runs on that cluster (EXP_LOG_PATH on a shared file system).
Each trial is the project's training command as a child process; finished runs are skipped, interrupted ones
resume from their ckpt/. Arguments after `--` go to every child.
"""
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.sweeps import experiments  # noqa: E402
from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.plumbing.flags import OneLineCommand  # noqa: E402
from utils.plumbing.paths import exp_log_path  # noqa: E402
from utils.sweeps.runner import parse_seeds, run_experiment  # noqa: E402

EXAMPLES = os.path.dirname(os.path.abspath(__file__))
@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def main():
    """The papers' experiments as sweeps on Ray (one command per figure or table); `hparams` for single runs."""


def experiment_command(name, summary):
    @main.command(name, cls=OneLineCommand, help=summary, context_settings={"ignore_unknown_options": True})
    @click.option("--preset", default="full", show_default=True,
                  help="full = the paper's protocol; %s." % ", ".join(
                      p for p in experiments.EXPERIMENTS[name] if p != "full"))
    @click.option("--address", default=None, help="A running Ray cluster (default: $RAY_ADDRESS, else a local "
                                                  "Ray started for this sweep).")
    @click.option("--devices", type=click.Choice(["auto", "cpu"]), default="auto", show_default=True,
                  help="auto: one trial per GPU when the cluster has GPUs; cpu: CPU slots only.")
    @click.option("--cpus-per-trial", type=click.IntRange(1, 1024), default=2, show_default=True,
                  help="CPUs a CPU trial reserves (a training command uses several threads).")
    @click.option("--num-cpus", type=click.IntRange(1, 4096), default=None,
                  help="CPUs of the embedded local Ray (default: all).")
    @click.option("--num-gpus", type=click.IntRange(0, 1024), default=None,
                  help="GPUs of the embedded local Ray (default: those it detects).")
    @click.option("--epochs", type=click.IntRange(1), default=None,
                  help="pareto only: epochs per run instead of the preset's.")
    @click.option("--seeds", default=None, help="Only these seeds (e.g. 1,2,3,4); grid searches are unaffected.")
    @click.option("--logs", type=click.Path(file_okay=False), default=None, help="Run folder (default: $EXP_LOG_PATH).")
    @click.option("--script-dir", type=click.Path(exists=True, file_okay=False), default=EXAMPLES,
                  help="Folder with the training commands (default: this examples folder).")
    @click.option("--dry-run", is_flag=True, help="List the commands of the trials still to run; run nothing.")
    @click.option("--tables-only", is_flag=True, help="Run nothing: write the table / figure of what has finished.")
    @click.argument("child_args", nargs=-1, type=click.UNPROCESSED)
    @exit_on_user_error
    def command(preset, address, devices, cpus_per_trial, num_cpus, num_gpus, epochs, seeds, logs, script_dir,
                dry_run, tables_only, child_args):
        experiments.check_preset(name, preset)
        if epochs is not None and name != "pareto":
            raise UserError("--epochs applies to pareto only; the other experiments' schedules are in their presets.")
        root = os.path.abspath(logs) if logs else exp_log_path()
        status = run_experiment(name, preset, root, address, devices, cpus_per_trial, num_cpus, num_gpus, epochs,
                                parse_seeds(seeds), script_dir, dry_run, tables_only, child_args, echo=click.echo)
        sys.exit(status)
    return command


experiment_command("pareto", "UAI 2018 'Mutual Information vs Consistency': LagVAE mi +-1 x e1 80..95, InfoVAE grid.")
experiment_command("toy2d-table1", "TMLR 2025 Table 1: beta grid search (seed 0), then 8 models x 4 data sets x 5 "
                                   "seeds at the betas with the lowest sample KL.")
experiment_command("images-ablation", "TMLR 2025 image ablation: N(0,I) and Vamp->MoG(K in 10, 100) x LC x IP x "
                                      "r in 0, 1, 10, 100, 3 seeds; best r per configuration.")


@main.command("hparams", cls=OneLineCommand)
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@exit_on_user_error
def hparams_command(run_dirs):
    """Write the HParams summaries of finished runs (default: every finished run under $EXP_LOG_PATH)."""
    from utils.sweeps.hparams import describe_run, write_hparams
    if not run_dirs:
        root = exp_log_path()
        run_dirs = sorted({dirpath for dirpath, _, files in os.walk(root)
                           if ("eval.pkl" in files or "eval.json" in files)
                           and os.path.basename(dirpath) != "hparams"})
    for run_dir in run_dirs:
        hparams, metrics = describe_run(run_dir)
        click.echo("%s: %d hparams, %d metrics" % (write_hparams(run_dir, hparams, metrics), len(hparams),
                                                   len(metrics)))


if __name__ == "__main__":
    main()
