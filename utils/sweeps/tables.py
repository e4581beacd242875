"""The papers' tables from run directories, as Markdown and CSV; partial sweeps show how many seeds finished.

* Table 1 (TMLR 2025, `IP:2D/compile_results.py`): per data set and model, mean +- standard error
  (std with ddof 1 over sqrt(n), `C2:350-371`) over the seeds of gnELBO x 1e7, KL and JSD.
* Image ablation (`IP:images/compile_results.py:156-195,299-330`): per data set and (prior, K, LC, IP), the r
  with the best (lowest) mean FID(gen) over its seeds (FD-LeNet when some run has no FID), then mean +- SE of
  each column for that r.
"""
import csv
import io
import math
from collections import OrderedDict

from utils.sweeps.experiments import TOY2D_MODELS

TABLE1_COLUMNS = (("gnELBO x1e7", "gnelbo_x1e7"), ("KL", "kl"), ("JSD", "jsd"))
IMAGE_COLUMNS = ("assignment_entropy", "gen", "rec", "recall", "precision", "svm_few", "svm_many", "knn_few",
                 "knn_many")


def mean_se(values):
    """(mean, standard error = sample std (ddof 1) / sqrt(n), n); SE is None for n < 2, mean None for n = 0."""
    values = [float(v) for v in values if v is not None and v == v]
    n = len(values)
    if n == 0:
        return None, None, 0
    mean = sum(values) / n
    if n < 2:
        return mean, None, n
    variance = sum((v - mean) ** 2 for v in values) / (n - 1)
    return mean, math.sqrt(variance) / math.sqrt(n), n


def format_mean_se(mean, se, digits=3):
    if mean is None:
        return "-"
    if se is None:
        return "%.*f" % (digits, mean)
    return "%.*f ± %.*f" % (digits, mean, digits, se)


def _render(header, rows, csv_rows, csv_header):
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join(" --- " for _ in header) + "|"]
    lines += ["| " + " | ".join(str(cell) for cell in row) + " |" for row in rows]
    stream = io.StringIO()
    writer = csv.writer(stream, lineterminator="\n")
    writer.writerow(csv_header)
    writer.writerows(csv_rows)
    return "\n".join(lines) + "\n", stream.getvalue()


def table1(root, trials, expected_seeds):
    """(markdown, csv) of Table 1 from the finished stage-2 `trials`; rows in the paper's model order."""
    groups = OrderedDict()
    for trial in trials:
        key = (trial.hparams["dataset"], trial.hparams["model"])
        groups.setdefault(key, [])
        results = trial.results(root) if trial.finished(root) else {}
        if results:
            groups[key].append(results)
    order = list(TOY2D_MODELS)
    keys = sorted(groups, key=lambda k: (k[0], order.index(k[1]) if k[1] in order else len(order)))
    rows, csv_rows = [], []
    for dataset, model in keys:
        runs = groups[(dataset, model)]
        cells, csv_cells = [], []
        for _, key in TABLE1_COLUMNS:
            mean, se, _ = mean_se([run.get(key) for run in runs])
            cells.append(format_mean_se(mean, se))
            csv_cells += ["" if mean is None else "%.6g" % mean, "" if se is None else "%.6g" % se]
        rows.append([dataset, model, "%d/%d" % (len(runs), expected_seeds)] + cells)
        csv_rows.append([dataset, model, len(runs)] + csv_cells)
    header = ["data set", "model", "seeds"] + [label for label, _ in TABLE1_COLUMNS]
    csv_header = ["dataset", "model", "seeds"] + [c for _, key in TABLE1_COLUMNS for c in (key, key + "_se")]
    return _render(header, rows, csv_rows, csv_header)


def _image_metric_names(runs):
    """FID names when every run has them, else FD-LeNet (never mixed within one table)."""
    if runs and all("fid_gen" in run for run in runs):
        return {"gen": "fid_gen", "rec": "fid_rec", "precision": "precision_inception",
                "recall": "recall_inception"}, "FID"
    return {"gen": "fd_lenet_gen", "rec": "fd_lenet_rec", "precision": "precision_lenet",
            "recall": "recall_lenet"}, "FD-LeNet"


def images_table(root, trials, expected_seeds):
    """(markdown, csv) of the image ablation: per (data set, prior, K, LC, IP) the best r by mean FID(gen)."""
    finished = [(trial, trial.results(root)) for trial in trials if trial.finished(root)]
    names, label = _image_metric_names([results for _, results in finished])
    by_r = OrderedDict()
    for trial, results in finished:
        h = trial.hparams
        by_r.setdefault((h["dataset"], h["prior"], h["K"], h["LC"], h["IP"]), OrderedDict()).setdefault(
            h["r"], []).append(results)
    rows, csv_rows = [], []
    for (dataset, prior, k, lc, ip), per_r in sorted(by_r.items(), key=lambda item: (
            item[0][0], item[0][1] != "imposed", item[0][2], item[0][3], item[0][4])):
        scored = [(mean_se([run.get(names["gen"]) for run in runs])[0], r) for r, runs in per_r.items()]
        scored = [(score, r) for score, r in scored if score is not None]
        if not scored:
            continue
        best_r = min(scored)[1]
        runs = per_r[best_r]
        cells, csv_cells = [], []
        for column in IMAGE_COLUMNS:
            key = names.get(column, column)
            mean, se, _ = mean_se([run.get(key) for run in runs])
            cells.append(format_mean_se(mean, se))
            csv_cells += ["" if mean is None else "%.6g" % mean, "" if se is None else "%.6g" % se]
        model = "N(0,I)" if prior == "imposed" else "MoG(%d)" % k
        rows.append([dataset, model, "✓" if lc else "✗", "✓" if ip else "✗", "%g" % best_r,
                     "%d/%d" % (len(runs), expected_seeds)] + cells)
        csv_rows.append([dataset, model, int(lc), int(ip), best_r, len(runs)] + csv_cells)
    columns = ["Assignment Entropy", "%s (gen)" % label, "%s (rec)" % label, "Recall", "Precision",
               "SVM (few)", "SVM (many)", "KNN (few)", "KNN (many)"]
    header = ["data set", "prior", "LC", "IP", "best r", "seeds"] + columns
    csv_header = ["dataset", "prior", "lc", "ip", "best_r", "seeds"] + [
        c for column in IMAGE_COLUMNS for c in (names.get(column, column), names.get(column, column) + "_se")]
    return _render(header, rows, csv_rows, csv_header)
