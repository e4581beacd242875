"""The "Mutual Information vs Consistency" figure of the repo's lagvae.jpg:
collect the runs of one or two EXP_LOG_PATHs, write them as a CSV of points, draw the Train / Test panels.

x = consistency = -ELBO = `{split}_nll + {split}_elbo`; y = an MI estimate, by default
the rate `{split}_elbo` (inferred: the paper does not name its estimator); the other estimators of utils/metrics/mutual_information.py are read
from `{split}_mi_<name>` when a run's evaluation wrote them.
"""
import csv
import io
import math
import os

from utils.plumbing.atomic import write_bytes_atomic, write_text_atomic
from utils.plumbing.errors import UserError
from utils.legacy.runs import find_runs

SPLITS = ("train", "test")
# estimator -> eval.pkl key suffix
ESTIMATORS = {"rate": "elbo", "gaussian": "mi_gaussian", "kde": "mi_kde", "aggregate": "mi_aggregate"}
POINT_COLUMNS = ("source", "method", "mi", "e1", "e2", "split", "consistency", "mutual_information",
                 "estimator", "mmd", "lambda1", "lambda2", "path")
REPOSITORY_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PAPER_POINTS = os.path.join(REPOSITORY_ROOT, "docs", "paper_points.csv")

STYLES = {  # (source, method) -> matplotlib style; the paper's colours for our runs
    ("ours", "lagvae"): dict(marker="o", color="tab:blue", linestyle="none", markersize=5, label="LagVAE"),
    ("ours", "infovae"): dict(marker="x", color="tab:red", linestyle="none", markersize=6, label="InfoVAE"),
    ("legacy", "lagvae"): dict(marker="s", markerfacecolor="none", color="navy", linestyle="none", markersize=6,
                               label="LagVAE (legacy TF1 runs)"),
    ("legacy", "infovae"): dict(marker="+", color="darkorange", linestyle="none", markersize=8,
                                label="InfoVAE (legacy TF1 runs)"),
    ("paper", "lagvae"): dict(marker="D", markerfacecolor="none", color="0.45", linestyle="none", markersize=5,
                              label="LagVAE (paper figure, read by eye)"),
}


def run_points(root, source, estimator="rate"):
    """One point per finished run and split under `root` (unfinished runs are skipped)."""
    suffix = ESTIMATORS[estimator]
    points = []
    for run in find_runs(root):
        if not run.finished:
            continue
        for split in SPLITS:
            points.append(dict(source=source, method=run.method, mi=run.mi, e1=run.e1, e2=run.e2, split=split,
                               consistency=run.consistency(split),
                               mutual_information=run.value("%s_%s" % (split, suffix)), estimator=estimator,
                               mmd=run.value("%s_mmd" % split), lambda1=run.value("%s_l1" % split),
                               lambda2=run.value("%s_l2" % split), path=os.path.relpath(run.path, root)))
    return points


def read_paper_points(path=PAPER_POINTS):
    """Rows of docs/paper_points.csv as dicts with float ranges (min == max for a single point)."""
    try:
        with open(path, newline="") as stream:
            rows = list(csv.DictReader(stream))
    except FileNotFoundError:
        raise UserError("%s is missing: it ships with the repository (docs/paper_points.csv)." % path)
    for row in rows:
        for key in ("consistency_min", "consistency_max", "mi_min", "mi_max"):
            row[key] = float(row[key])
    return rows


def points_csv(points):
    stream = io.StringIO()
    writer = csv.DictWriter(stream, fieldnames=POINT_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for point in points:
        writer.writerow({key: ("%.6g" % value if isinstance(value, float) else value)
                         for key, value in point.items()})
    return stream.getvalue()


def _finite(points):
    return [p for p in points if math.isfinite(p["consistency"]) and math.isfinite(p["mutual_information"])]


def draw_figure(points, paper_rows=None, estimator="rate", title_note=None):
    """The two-panel figure as a matplotlib Figure (Agg)."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    figure, axes = plt.subplots(1, 2, figsize=(11, 4.8))
    for axis, split in zip(axes, SPLITS):
        if paper_rows:
            single = [r for r in paper_rows if r["split"] == split and r["consistency_min"] == r["consistency_max"]
                      and r["mi_min"] == r["mi_max"]]
            if single:
                axis.plot([r["consistency_min"] for r in single], [r["mi_min"] for r in single],
                          **STYLES[("paper", "lagvae")])
            for row in paper_rows:
                if row["split"] == split and row not in single:
                    axis.add_patch(Rectangle((row["consistency_min"] - 0.15, row["mi_min"] - 0.3),
                                             row["consistency_max"] - row["consistency_min"] + 0.3,
                                             row["mi_max"] - row["mi_min"] + 0.6, facecolor="0.85",
                                             edgecolor="0.45", zorder=0,
                                             label="LagVAE cluster (paper figure, extent only)"))
        for (source, method), style in STYLES.items():
            if source == "paper":
                continue
            chosen = _finite([p for p in points if p["split"] == split and p["source"] == source
                              and p["method"] == method])
            if chosen:
                axis.plot([p["consistency"] for p in chosen], [p["mutual_information"] for p in chosen], **style)
        axis.set_title(split.capitalize())
        axis.set_xlabel("Consistency (-ELBO, nats)")
        axis.set_ylabel("Mutual Information (%s, nats)" % ("rate" if estimator == "rate" else estimator))
        axis.grid(alpha=0.3)
        axis.autoscale_view()
    handles, labels = [], []
    for axis in axes:
        for handle, label in zip(*axis.get_legend_handles_labels()):
            if label not in labels:
                handles.append(handle)
                labels.append(label)
    if handles:
        figure.legend(handles, labels, loc="lower center", ncol=min(len(labels), 3), fontsize=8, frameon=False)
    if title_note:
        figure.suptitle(title_note, fontsize=9)
    figure.tight_layout(rect=(0, 0.1 if handles else 0, 1, 0.95 if title_note else 1))
    return figure


def write_figure(points, png_path, csv_path, paper_rows=None, estimator="rate", title_note=None):
    """Write the PNG and the CSV of the plotted points atomically; return the number of finite points."""
    figure = draw_figure(points, paper_rows, estimator, title_note)
    stream = io.BytesIO()
    figure.savefig(stream, format="png", dpi=120)
    import matplotlib.pyplot as plt
    plt.close(figure)
    write_bytes_atomic(png_path, stream.getvalue())
    write_text_atomic(csv_path, points_csv(points))
    return len(_finite(points))
