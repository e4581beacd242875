"""Add the mutual-information estimates and the consistency (-ELBO) of trained runs to their eval.pkl / eval.json.

    EXP_LOG_PATH=runs python examples/evaluate.py                  # every finished run under EXP_LOG_PATH
    python examples/evaluate.py runs/lvae/v1/64/1.0-86.0-5.0      # one run
    python examples/evaluate.py legacy/lvae/v1/64/1.0-86.0-5.0 --out evaluated   # a legacy TF1 run

New keys, next to the legacy ones (utils/metrics/mutual_information.py):
`{train,test}_consistency` (= nll + elbo), `_mi_rate`, `_mi_gaussian`, `_mi_kde`, `_mi_aggregate` and
`_mi_aggregate_ceiling` (= log N, the most the aggregate estimate can give).

Our runs are restored from `<run dir>/ckpt/`. A legacy run directory (a TF1 checkpoint `<run dir>/.index`) is
loaded into our networks (utils/legacy/checkpoints.py) and evaluated by our code: the legacy keys are
recomputed as well, and everything is written under `--out` (legacy folders are never modified).
"""
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.plumbing.flags import OneLineCommand  # noqa: E402
from utils.legacy.runs import METHOD_FOLDERS, describe_run_directory, find_runs  # noqa: E402

NEW_KEY = "test_mi_kde"   # present once a run has been evaluated here


def _config(logdir):
    path = os.path.join(logdir, "config.json")
    if os.path.exists(path):
        with open(path) as stream:
            return json.load(stream)
    return {}


def _build(method, z_dim, mi, e1, e2, seed):
    if method == "lagvae":
        from methods.lagvae import LagrangianVAE
        return LagrangianVAE(mi=mi, e1=e1, e2=e2, z_dim=z_dim, seed=seed, jit_compile=False)
    from methods.infovae import InfoVAE
    return InfoVAE(mi=mi, e1=e1, e2=e2, z_dim=z_dim, seed=seed, jit_compile=False)


def evaluate_run(logdir, out_root, seed):
    """Evaluate one run directory; returns (output directory, results written)."""
    import keras
    import tensorflow as tf
    from utils.training.legacy import LegacyRun
    from utils.metrics.mutual_information import information_evaluation
    from utils.plumbing.results import read_evaluation, write_evaluation

    method, z_dim, mi, e1, e2 = describe_run_directory(logdir)
    config = _config(logdir)
    dataset, batch_size = config.get("dataset", "mnist"), int(config.get("batch_size", 250))
    keras.utils.set_random_seed(seed)
    model = _build(method, z_dim, mi, e1, e2, seed)
    if os.path.isdir(os.path.join(logdir, "ckpt")):
        run = LegacyRun(model, logdir, dataset, batch_size, int(config.get("seed", seed)))
        run.checkpoint.restore_latest(required=True)
        train, test = run.train_data, run.test_data
        legacy, out = read_evaluation(logdir), logdir
        results = {}
    elif os.path.exists(os.path.join(logdir, ".index")):
        from utils.data.mnist import read_mnist
        from utils.legacy.checkpoints import load_legacy_model
        if out_root is None:
            raise UserError("%s is a legacy TF1 run: pass --out FOLDER for the results (legacy folders are "
                            "left as they are)." % logdir)
        load_legacy_model(model, logdir)
        train, test = read_mnist(dataset, batch_sizes=(batch_size, batch_size),
                                 generator=tf.random.Generator.from_seed(seed + 1))
        results = {}
        for prefix, data in (("test_", test), ("train_", train)):
            results.update({prefix + key: value for key, value in model.evaluate_split(data).items()})
        legacy = results
        out = os.path.join(out_root, METHOD_FOLDERS[method], str(z_dim), os.path.basename(os.path.normpath(logdir)))
    else:
        raise UserError("%s has neither ckpt/ (our runs) nor a TF1 checkpoint (.index): train it first." % logdir)
    results.update(information_evaluation(model, train, test, seed=seed, legacy=legacy))
    os.makedirs(out, exist_ok=True)
    write_evaluation(out, results)
    return out, results


@click.command(cls=OneLineCommand)
@click.argument("run_dirs", nargs=-1, type=click.Path(exists=True, file_okay=False))
@click.option("--logs", type=click.Path(exists=True, file_okay=False), default=None,
              help="Without RUN_DIRS: evaluate every finished run under this folder (default: $EXP_LOG_PATH).")
@click.option("--out", "out_root", type=click.Path(file_okay=False), default=None,
              help="Where the results of legacy TF1 runs go (an EXP_LOG_PATH-like folder).")
@click.option("--redo", is_flag=True, help="Evaluate again runs that already have the MI keys.")
@click.option("--seed", type=click.IntRange(0, 2 ** 31 - 1), default=0, show_default=True,
              help="Seed of the z samples, the binarisation and the subsets of the estimators.")
@click.option("--device", default="auto", show_default=True, help="'auto', 'cpu' or a GPU index.")
@exit_on_user_error
def main(run_dirs, logs, out_root, redo, seed, device):
    from utils.plumbing.devices import setup_device
    from utils.plumbing.paths import exp_log_path
    from utils.plumbing.results import read_evaluation

    if not run_dirs:
        root = logs or exp_log_path()
        run_dirs = [run.path for run in find_runs(root) if run.finished]
        if not run_dirs:
            raise UserError("no finished run (eval.pkl) under %s." % root)
    print("Using device %s" % setup_device(device))
    for logdir in run_dirs:
        if not redo and NEW_KEY in read_evaluation(logdir) and os.path.isdir(os.path.join(logdir, "ckpt")):
            print("%s: already evaluated (--redo to evaluate again)" % logdir)
            continue
        out, results = evaluate_run(logdir, out_root, seed)
        summary = " ".join("%s %.2f" % (key, float(results[key])) for key in sorted(results)
                           if key.startswith("test_") and ("mi_" in key or "consistency" in key))
        print("%s: %s" % (out, summary))


if __name__ == "__main__":
    main()
