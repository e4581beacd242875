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
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import click  # noqa: E402

from utils import experiments, sweep  # noqa: E402
from utils.errors import UserError, exit_on_user_error  # noqa: E402
from utils.flags import OneLineCommand  # noqa: E402
from utils.paths import exp_log_path  # noqa: E402
from utils.progress import progress_bar  # noqa: E402

EXAMPLES = os.path.dirname(os.path.abspath(__file__))
FORWARDED_VARIABLES = ("DATA_PREFIX", "TF_CPP_MIN_LOG_LEVEL")
SUMMARY_COLUMNS = {
    "pareto": (("train -ELBO", lambda r: r.get("train_nll", 0) + r["train_elbo"] if "train_elbo" in r else None),
               ("train rate", "train_elbo"),
               ("test -ELBO", lambda r: r.get("test_nll", 0) + r["test_elbo"] if "test_elbo" in r else None),
               ("test rate", "test_elbo"), ("train l1", "train_l1")),
    "toy2d-table1": (("gnELBO x1e7", "gnelbo_x1e7"), ("KL", "kl"), ("JSD", "jsd")),
    "images-ablation": (("FD-LeNet gen", "fd_lenet_gen"), ("FID gen", "fid_gen"), ("svm_many", "svm_many")),
}


def _seeds(text):
    if text is None:
        return None
    try:
        seeds = tuple(int(part) for part in text.split(",") if part.strip())
    except ValueError:
        raise UserError("--seeds must be comma-separated integers such as 1,2,3, not %r" % text)
    if not seeds or min(seeds) < 0:
        raise UserError("--seeds must be non-negative integers such as 1,2,3, not %r" % text)
    return seeds


def _filter_seeds(trials, seeds):
    if seeds is None:
        return trials
    return [t for t in trials if "seed" not in t.hparams or t.hparams["seed"] in seeds or t.stage == "grid-search"]


def write_tables(experiment, preset, root, trials, out_dir):
    """Write the experiment's table (or figure) from the run directories; returns the Markdown or a line."""
    from utils.atomic import write_text_atomic
    from utils import sweep_tables
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, "%s-%s" % (experiment, preset))
    if experiment == "pareto":
        from utils.pareto import run_points, write_figure
        points = [p for p in run_points(root, "ours")
                  if p["path"] in {t.run_dir for t in trials}]
        if not points:
            return "no finished run yet: no figure"
        write_figure(points, base + ".png", base + ".csv", None, "rate", "%s preset" % preset)
        return "figure: %s.png, %s.csv (%d runs)" % (base, base, len({p["path"] for p in points}))
    spec = experiments.EXPERIMENTS[experiment][preset]
    if experiment == "toy2d-table1":
        markdown, text = sweep_tables.table1(root, [t for t in trials if t.stage == "seeds"], len(spec["seeds"]))
    else:
        markdown, text = sweep_tables.images_table(root, trials, len(spec["seeds"]))
    write_text_atomic(base + ".md", markdown)
    write_text_atomic(base + ".csv", text)
    return markdown + "(%s.md, %s.csv)" % (base, base)


def run_experiment(experiment, preset, root, address, devices, cpus_per_trial, num_cpus, num_gpus, epochs,
                   seeds, script_dir, dry_run, tables_only, child_args, echo=print):
    """The whole sweep; returns the exit status (1 when a trial failed)."""
    from utils.hparams import write_hparams
    stages = experiments.stages(experiment, preset, epochs=epochs)
    for script in ("lagvae.py", "infovae.py") if experiment == "pareto" else (
            ("sintrovae_2d.py",) if experiment == "toy2d-table1" else ("sintrovae_images.py",)):
        if not os.path.exists(os.path.join(script_dir, script)):
            raise UserError("%s is missing in %s: pass --script-dir with the project's examples folder."
                            % (script, script_dir))
    started_here = False
    everything, status = [], 0
    try:
        for stage, build in stages:
            trials, note = build(root)
            trials = _filter_seeds(trials, seeds)
            everything += trials
            pending = [t for t in trials if not t.finished(root)]
            echo("%s %s, stage %s: %d trials, %d finished before, %d to run" % (
                experiment, preset, stage, len(trials), len(trials) - len(pending), len(pending)))
            if note:
                echo("  " + note)
            if dry_run:
                for trial in pending:
                    echo("  EXP_LOG_PATH=%s %s" % (root, " ".join(trial.command("python", script_dir, "gpu|cpu",
                                                                                  child_args))))
                if len(stages) > 1:
                    echo("  (later stages depend on this one's results)")
                    break
                continue
            if tables_only:
                continue
            if not pending:      # nothing to run: no Ray needed, only HParams that are missing
                for trial in trials:
                    if not os.path.isdir(os.path.join(root, trial.run_dir, "hparams")):
                        _hparams(trial, root, write_hparams)
                continue
            if not started_here and not __import__("ray").is_initialized():
                started_here = sweep.connect(address, num_cpus, num_gpus)
                import ray
                resources = ray.cluster_resources()
                echo("Ray: %s, %d CPUs, %d GPUs" % ("local (embedded)" if started_here else "cluster",
                                                    resources.get("CPU", 0), resources.get("GPU", 0)))
            resources = sweep.trial_resources(devices, cpus_per_trial)
            commands = [t.command(sys.executable, script_dir, "gpu" if resources["num_gpus"] else "cpu",
                                  child_args) for t in trials]
            bar = progress_bar(len(trials), stage)
            bar.update(len(trials) - len(pending))
            done = [len(trials) - len(pending)]

            def on_end(outcome):
                bar.update(1)
                done[0] += 1
                line = "[%d/%d] %s %s (%.1f min, %s)" % (done[0], len(trials), outcome.status,
                                                         outcome.trial.run_dir, outcome.seconds / 60.0,
                                                         outcome.device or "-")
                if outcome.failed and outcome.error:
                    line += ": Ray could not run it: %s" % outcome.error
                elif outcome.failed:
                    line += ": see %s" % os.path.join(root, outcome.trial.run_dir, sweep.OUTPUT_FILE)
                bar.write(line) if not bar.disable else echo(line)
                if outcome.status == "done" and outcome.trial.finished(root):
                    _hparams(outcome.trial, root, write_hparams)

            try:
                # the launching shell's settings reach the children on every node (Ray's workers inherit the
                # environment of `ray start`, not this one's)
                forwarded = {k: os.environ[k] for k in FORWARDED_VARIABLES if k in os.environ}
                outcomes = sweep.run_trials(trials, root, commands, resources, on_end=on_end, env=forwarded)
            except KeyboardInterrupt:
                bar.close()
                echo("interrupted: the running trials were stopped; run the same command again to resume.")
                return 130
            bar.close()
            for outcome in outcomes:
                if outcome.status == "finished-before" and not os.path.isdir(
                        os.path.join(root, outcome.trial.run_dir, "hparams")):
                    _hparams(outcome.trial, root, write_hparams)
            echo(sweep.summary_table(outcomes, root, SUMMARY_COLUMNS[experiment]))
            failed = [o for o in outcomes if o.failed]
            if failed:
                echo("%d trial(s) failed; their output is in <run dir>/%s" % (len(failed), sweep.OUTPUT_FILE))
                status = 1
                break
    finally:
        if started_here:
            import ray
            ray.shutdown()
    if not dry_run:
        echo(write_tables(experiment, preset, root, everything, os.path.join(root, "tables")))
    return status


def _hparams(trial, root, write_hparams):
    metrics = trial.results(root)
    if trial.script in ("lagvae", "infovae"):
        for split in ("train", "test"):
            if "%s_nll" % split in metrics and "%s_elbo" % split in metrics:
                metrics["%s_neg_elbo" % split] = metrics["%s_nll" % split] + metrics["%s_elbo" % split]
    write_hparams(os.path.join(root, trial.run_dir), trial.hparams, metrics)


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
                                _seeds(seeds), script_dir, dry_run, tables_only, child_args, echo=click.echo)
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
    from utils.hparams import describe_run, write_hparams
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
