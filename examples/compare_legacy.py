"""Print legacy (TF1) and new results side by side for the configurations both folders hold.

    python examples/compare_legacy.py --legacy-logs /path/to/legacy_EXP_LOG_PATH [--logs runs]

Runs match when method, z_dim, mi, e1 and e2 agree (the legacy run-directory names). For each
match: -ELBO (consistency), rate (`elbo`), nll, mmd and, for LagVAE, the multipliers, on train and test,
from both eval.pkl files. The last `Iteration` line of the legacy log.txt is shown when there is one.
"""
import math
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from utils.plumbing.quiet import hide_tensorflow_start_up_noise  # noqa: E402
hide_tensorflow_start_up_noise()

import click  # noqa: E402

from utils.plumbing.errors import UserError, exit_on_user_error  # noqa: E402
from utils.legacy.runs import find_runs, read_log_txt  # noqa: E402
from utils.plumbing.paths import exp_log_path  # noqa: E402

QUANTITIES = ("consistency", "elbo", "nll", "mmd", "l1", "l2")


def _value(run, split, quantity):
    if quantity == "consistency":
        return run.consistency(split)
    return run.value("%s_%s" % (split, quantity))


def comparison_rows(legacy_runs, our_runs):
    """(config, key, legacy, ours) rows for matched finished runs, and the unmatched legacy configurations."""
    ours = {(r.method, r.z_dim, r.mi, r.e1, r.e2): r for r in our_runs if r.finished}
    rows, unmatched = [], []
    for legacy in legacy_runs:
        if not legacy.finished:
            continue
        key = (legacy.method, legacy.z_dim, legacy.mi, legacy.e1, legacy.e2)
        if key not in ours:
            unmatched.append(key)
            continue
        for split in ("train", "test"):
            for quantity in QUANTITIES:
                old, new = _value(legacy, split, quantity), _value(ours[key], split, quantity)
                if not (math.isnan(old) and math.isnan(new)):
                    rows.append((key, "%s_%s" % (split, quantity), old, new))
    return rows, unmatched


def _config_name(key):
    method, z_dim, mi, e1, e2 = key
    return "%s z=%d mi=%g e1=%g e2=%g" % (method, z_dim, mi, e1, e2)


@click.command()
@click.option("--legacy-logs", type=click.Path(exists=True, file_okay=False), required=True,
              help="The legacy EXP_LOG_PATH (lvae/v1/... and infovae/v1/... with eval.pkl).")
@click.option("--logs", type=click.Path(exists=True, file_okay=False), default=None,
              help="Our runs (default: $EXP_LOG_PATH).")
@exit_on_user_error
def main(legacy_logs, logs):
    legacy_runs = find_runs(legacy_logs)
    rows, unmatched = comparison_rows(legacy_runs, find_runs(logs or exp_log_path()))
    if not rows:
        raise UserError("no configuration is finished in both folders: compare runs with the same method, "
                        "z_dim, mi, e1 and e2.")
    current = None
    for key, name, old, new in rows:
        if key != current:
            current = key
            print("\n%s" % _config_name(key))
            print("  %-18s %10s %10s %9s" % ("key", "legacy", "ours", "ours-leg"))
            legacy_run = [r for r in legacy_runs if (r.method, r.z_dim, r.mi, r.e1, r.e2) == key][0]
            if os.path.exists(os.path.join(legacy_run.path, "log.txt")):
                iterations = read_log_txt(legacy_run.path).iterations
                if iterations:
                    last = iterations[-1]
                    print("  legacy log, last line: iteration %d, -ELBO %.2f, l1 %.3f, l2 %.3f"
                          % (last["iteration"], last["all"], last["l1"], last["l2"]))
        print("  %-18s %10.3f %10.3f %+9.3f" % (name, old, new, new - old))
    for key in unmatched:
        print("\nno new run for legacy %s" % _config_name(key))


if __name__ == "__main__":
    main()
