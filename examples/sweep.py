"""Run a grid of LagVAE and InfoVAE configurations as separate processes (one per free GPU, or per CPU slot),
skipping finished runs and resuming interrupted ones; a summary table at the end.

Default grid = the figure's protocol (legacy spec 2.5): LagVAE mi in {+1, -1} x e1 in {80, 82, 84, 85..95} x
e2 = 5, and the proposed InfoVAE grid (spec 2.4): mi in {+1, -1} x lambda1 in {0.1 .. 100} x lambda2 in
{0.1, 1, 10}. 5000 epochs each is the original budget; `--epochs` sets a smaller one.

    EXP_LOG_PATH=runs python examples/sweep.py --epochs 20 --e1 86,90,94 --method lagvae
    EXP_LOG_PATH=runs python examples/sweep.py --dry-run          # list the commands
Arguments after `--` are passed to every child (e.g. `-- --batch-size 250`).
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import click

from utils import sweep
from utils.devices import available_gpus
from utils.errors import UserError, exit_on_user_error
from utils.flags import OneLineCommand
from utils.legacy_runs import read_eval_pkl
from utils.paths import exp_log_path
from utils.progress import progress_bar

EXAMPLES = os.path.dirname(os.path.abspath(__file__))


class FloatList(click.ParamType):
    """A comma-separated list of finite numbers, e.g. `80,82,84` (checked here, so bad values never reach a
    child run)."""
    name = "list"

    def convert(self, value, param, ctx):
        if isinstance(value, tuple):
            return value
        try:
            values = tuple(float(item) for item in str(value).split(",") if item.strip())
        except ValueError:
            self.fail("%r is not a comma-separated list of numbers, e.g. 86,90,94" % value, param, ctx)
        if not values:
            self.fail("the list is empty", param, ctx)
        if not all(math.isfinite(v) for v in values):
            self.fail("%r holds a value that is not a finite number" % value, param, ctx)
        return values


def _list(default):
    return ",".join("%g" % v for v in default)


@click.command(cls=OneLineCommand, context_settings={"ignore_unknown_options": True})
@click.option("--method", "methods", type=click.Choice(["lagvae", "infovae"]), multiple=True,
              default=("lagvae", "infovae"), show_default=True, help="Which grids to run (repeatable).")
@click.option("--lagvae-mi", type=FloatList(), default=_list(sweep.DEFAULT_LAGVAE_MI), show_default=True)
@click.option("--e1", "lagvae_e1", type=FloatList(), default=_list(sweep.DEFAULT_LAGVAE_E1), show_default=True,
              help="LagVAE consistency levels (-ELBO <= e1).")
@click.option("--e2", "lagvae_e2", type=FloatList(), default=_list(sweep.DEFAULT_LAGVAE_E2), show_default=True,
              help="LagVAE MMD levels (x1e4).")
@click.option("--infovae-mi", type=FloatList(), default=_list(sweep.DEFAULT_INFOVAE_MI), show_default=True)
@click.option("--infovae-l1", type=FloatList(), default=_list(sweep.DEFAULT_INFOVAE_LAMBDA1), show_default=True,
              help="InfoVAE fixed lambda1 values (its --e1).")
@click.option("--infovae-l2", type=FloatList(), default=_list(sweep.DEFAULT_INFOVAE_LAMBDA2), show_default=True,
              help="InfoVAE fixed lambda2 values (its --e2).")
@click.option("--z_dim", type=click.IntRange(min=1), default=64, show_default=True)
@click.option("--epochs", type=click.IntRange(min=1), default=5000, show_default=True,
              help="Epoch budget of every run (the original: 5000).")
@click.option("--devices", type=click.Choice(["auto", "cpu"]), default="auto", show_default=True,
              help="auto: one child per free GPU (utils.devices.available_gpus), the CPU when none; cpu: CPU only.")
@click.option("--cpu-slots", type=click.IntRange(min=1, max=256), default=sweep.default_cpu_slots(),
              show_default=True, help="Children at once on the CPU (default: cores / 2).")
@click.option("--logs", type=click.Path(file_okay=False), default=None, help="Run folder (default: $EXP_LOG_PATH).")
@click.option("--script-dir", type=click.Path(exists=True, file_okay=False), default=EXAMPLES, show_default=False,
              help="Folder with lagvae.py / infovae.py (default: this examples folder).")
@click.option("--dry-run", is_flag=True, help="Print the grid and the commands; run nothing.")
@click.argument("child_args", nargs=-1, type=click.UNPROCESSED)
@exit_on_user_error
def main(methods, lagvae_mi, lagvae_e1, lagvae_e2, infovae_mi, infovae_l1, infovae_l2, z_dim, epochs, devices,
         cpu_slots, logs, script_dir, dry_run, child_args):
    root = os.path.abspath(logs) if logs else exp_log_path()
    jobs = sweep.make_grid(root, methods, lagvae_mi, lagvae_e1, lagvae_e2, infovae_mi, infovae_l1, infovae_l2,
                           z_dim)
    for job in jobs:
        if os.path.exists(os.path.join(job.logdir, "eval.pkl")):
            job.status, job.evaluation = "finished-before", read_eval_pkl(job.logdir)
    gpus = available_gpus() if devices == "auto" else []
    slots = sweep.device_slots(gpus, cpu_slots)

    def make_command(job, device):
        return sweep.child_command(job, script_dir, epochs, device, child_args)

    pending = [job for job in jobs if job.status == "pending"]
    print("%d configurations: %d finished before, %d to run on %s" % (
        len(jobs), len(jobs) - len(pending), len(pending),
        ("GPUs " + ",".join(slots)) if gpus else "%d CPU slot(s)" % len(slots)))
    if dry_run:
        for job in pending:
            print(" ".join(make_command(job, slots[0])))
        return
    for script in dict.fromkeys("%s.py" % job.method for job in pending):
        if not os.path.exists(os.path.join(script_dir, script)):
            raise UserError("%s is missing in %s: pass --script-dir with lagvae.py and infovae.py."
                            % (script, script_dir))

    bar = progress_bar(len(jobs), "sweep")
    bar.update(len(jobs) - len(pending))

    def on_change(job):
        bar.update(1)
        if os.path.exists(os.path.join(job.logdir, "eval.pkl")):
            job.evaluation = read_eval_pkl(job.logdir)
        if job.status == "failed":
            bar.write("failed (exit %d): %s; see %s" % (job.returncode, job.name,
                                                         os.path.join(job.logdir, sweep.OUTPUT_FILE)))

    env = dict(os.environ, EXP_LOG_PATH=root)
    try:
        sweep.Scheduler(jobs, slots, make_command, env=env, on_change=on_change).run()
    except KeyboardInterrupt:
        bar.close()
        print("\ninterrupted: running children were stopped; run the same command again to resume.")
        print(sweep.summary_table(jobs))
        sys.exit(130)
    bar.close()
    print(sweep.summary_table(jobs))
    failed = [job for job in jobs if job.status == "failed"]
    if failed:
        print("%d run(s) failed; their output is in <run dir>/%s" % (len(failed), sweep.OUTPUT_FILE))
        sys.exit(1)


if __name__ == "__main__":
    main()
