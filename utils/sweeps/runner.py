"""One experiment of utils/sweeps/experiments.py run as a sweep (utils/sweeps/engine.py on Ray): the trials still to run, the
progress of the whole sweep, the summary table, the HParams of every finished run and the experiment's tables
or figure (utils/sweeps/tables.py, utils/figures/pareto.py). examples/sweep.py holds only the flags.
"""
import os
import sys

from utils.sweeps import experiments

from utils.sweeps import engine as sweep
from utils.plumbing.errors import UserError
from utils.plumbing.progress import progress_bar

FORWARDED_VARIABLES = ("DATA_PREFIX", "TF_CPP_MIN_LOG_LEVEL")
SUMMARY_COLUMNS = {
    "pareto": (("train -ELBO", lambda r: r.get("train_nll", 0) + r["train_elbo"] if "train_elbo" in r else None),
               ("train rate", "train_elbo"),
               ("test -ELBO", lambda r: r.get("test_nll", 0) + r["test_elbo"] if "test_elbo" in r else None),
               ("test rate", "test_elbo"), ("train l1", "train_l1")),
    "toy2d-table1": (("gnELBO x1e7", "gnelbo_x1e7"), ("KL", "kl"), ("JSD", "jsd")),
    "images-ablation": (("FD-LeNet gen", "fd_lenet_gen"), ("FID gen", "fid_gen"), ("svm_many", "svm_many")),
}


def parse_seeds(text):
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
    from utils.plumbing.atomic import write_text_atomic
    from utils.sweeps import tables as sweep_tables
    os.makedirs(out_dir, exist_ok=True)
    base = os.path.join(out_dir, "%s-%s" % (experiment, preset))
    if experiment == "pareto":
        from utils.figures.pareto import run_points, write_figure
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
    from utils.sweeps.hparams import write_hparams
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
