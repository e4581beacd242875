"""The figure command on a synthetic set of run directories (ours + a legacy EXP_LOG_PATH)."""
import csv
import os
import pickle

import numpy as np
import pytest
from click.testing import CliRunner

from utils.legacy.runs import run_directory
from utils.figures.pareto import read_paper_points

import examples.pareto_figure as pareto_figure


def write_run(root, method, mi, e1, e2, train, test, extra=None):
    folder = run_directory(root, method, 64, mi, e1, e2)
    os.makedirs(folder, exist_ok=True)
    values = {"train_nll": train[0], "train_elbo": train[1], "train_mmd": 2.5,
              "test_nll": test[0], "test_elbo": test[1], "test_mmd": 3.5}
    if method == "lagvae":
        values.update(train_l1=1.25, train_l2=0.5, test_l1=1.25, test_l2=0.5)
    values.update(extra or {})
    with open(os.path.join(folder, "eval.pkl"), "wb") as stream:
        pickle.dump({k: np.float32(v) for k, v in values.items()}, stream)
    return folder


def colour_pixels(png, rgb, tolerance=0.03):
    import matplotlib.image
    image = matplotlib.image.imread(png)[..., :3]
    return int(np.sum(np.all(np.abs(image - np.array(rgb) / 255.0) < tolerance, axis=-1)))


def test_figure_and_csv_from_synthetic_runs(tmp_path):
    ours, legacy = str(tmp_path / "ours"), str(tmp_path / "legacy")
    write_run(ours, "lagvae", 1.0, 90.0, 5.0, (60.0, 30.0), (63.0, 30.5), extra={"train_mi_gaussian": 28.0})
    write_run(ours, "lagvae", -1.0, 90.0, 5.0, (75.5, 14.5), (80.0, 14.0))
    write_run(ours, "infovae", 1.0, 10.0, 1.0, (70.0, 22.0), (76.0, 22.5))
    os.makedirs(run_directory(ours, "lagvae", 64, 1.0, 95.0, 5.0))                     # unfinished: skipped
    write_run(legacy, "lagvae", 1.0, 90.0, 5.0, (61.0, 29.0), (64.0, 29.5))
    out = str(tmp_path / "figure" / "pareto")

    result = CliRunner().invoke(pareto_figure.main, ["--logs", ours, "--legacy-logs", legacy, "--out", out,
                                                     "--title", "synthetic"])
    assert result.exit_code == 0, result.output
    assert "4 runs, 8 points plotted" in result.output

    with open(out + ".csv") as stream:
        rows = list(csv.DictReader(stream))
    assert len(rows) == 8
    upper_train = [r for r in rows if r["source"] == "ours" and r["mi"] == "1" and r["method"] == "lagvae"
                   and r["split"] == "train"][0]
    assert float(upper_train["consistency"]) == pytest.approx(90.0)
    assert float(upper_train["mutual_information"]) == pytest.approx(30.0)
    assert float(upper_train["lambda1"]) == 1.25 and upper_train["estimator"] == "rate"
    infovae_test = [r for r in rows if r["method"] == "infovae" and r["split"] == "test"][0]
    assert float(infovae_test["consistency"]) == pytest.approx(98.5) and infovae_test["lambda1"] == "nan"
    assert {r["source"] for r in rows} == {"ours", "legacy"}

    # LagVAE blue dots (tab:blue) and InfoVAE red crosses (tab:red) are drawn.
    assert colour_pixels(out + ".png", (31, 119, 180)) > 20
    assert colour_pixels(out + ".png", (214, 39, 40)) > 10

    # A diagnostic estimator: only the run that has the key gets a finite point.
    result = CliRunner().invoke(pareto_figure.main, ["--logs", ours, "--out", out + "_g", "--estimator",
                                                     "gaussian", "--no-paper"])
    assert result.exit_code == 0, result.output
    assert "3 runs, 1 points plotted" in result.output


def test_no_finished_run_is_a_one_line_error(tmp_path):
    result = CliRunner().invoke(pareto_figure.main, ["--logs", str(tmp_path), "--out", str(tmp_path / "x")])
    assert result.exit_code == 2
    assert "no finished run" in result.output


def test_paper_points_file():
    rows = read_paper_points()
    train_upper = [r for r in rows if r["split"] == "train" and r["branch"] == "upper"]
    train_lower = [r for r in rows if r["split"] == "train" and r["branch"] == "lower"]
    assert len(train_upper) == 10 and len(train_lower) == 11
    # The upper branch rises with consistency, the lower branch falls (spec 2.2).
    assert all(a["mi_min"] < b["mi_min"] for a, b in zip(train_upper, train_upper[1:]))
    assert all(a["mi_min"] > b["mi_min"] for a, b in zip(train_lower, train_lower[1:]))
