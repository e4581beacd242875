"""Table builders on synthetic run directories: mean +- standard error checked by hand, partial sweeps,
best r by FID (else FD-LeNet); and the HParams of a run made outside a sweep."""
import csv
import io
import os

import pytest
from click.testing import CliRunner

import examples.sweep as sweep_command
from utils.sweeps import experiments
from utils.sweeps import tables as sweep_tables
from utils.plumbing.atomic import write_json_atomic, write_pickle_atomic
from utils.sweeps.hparams import read_hparams


def test_mean_se_by_hand():
    assert sweep_tables.mean_se([1.0, 2.0, 6.0]) == pytest.approx((3.0, (7.0 ** 0.5) / (3 ** 0.5), 3))
    assert sweep_tables.mean_se([4.0]) == (4.0, None, 1)
    assert sweep_tables.mean_se([]) == (None, None, 0)


def test_table1_mean_se_and_partial_seeds(tmp_path):
    root = str(tmp_path)
    (stage, build), = experiments.stages("toy2d-table1", "gauss-8gaussian")
    trials, _ = build(root)
    for trial, (gnelbo, kl, jsd) in zip(trials, [(1.0, 1.0, 0.5), (1.2, 2.0, 0.5), (1.4, 6.0, 0.8)]):
        write_json_atomic(os.path.join(root, trial.run_dir, "eval.json"), dict(gnelbo_x1e7=gnelbo, kl=kl, jsd=jsd))
    vae = experiments.toy2d_trial("8Gaussian", "VAE N(0,I)", (0.8, 0.05, 1.0), 0,
                                  experiments.TOY2D_PRESETS["full"]["schedule"], "seeds")
    write_json_atomic(os.path.join(root, vae.run_dir, "eval.json"), dict(gnelbo_x1e7=2.0, kl=9.5, jsd=3.25))
    markdown, text = sweep_tables.table1(root, trials + [vae], 5)
    lines = markdown.splitlines()
    assert lines[0] == "| data set | model | seeds | gnELBO x1e7 | KL | JSD |"
    # paper's row order: VAE rows first; 1 of 5 seeds has no SE; 3 of 5 seeds: SE = sd / sqrt(3)
    assert lines[2] == "| 8Gaussian | VAE N(0,I) | 1/5 | 2.000 | 9.500 | 3.250 |"
    assert lines[3] == "| 8Gaussian | S-IntroVAE N(0,I) | 3/5 | 1.200 ± 0.115 | 3.000 ± 1.528 | 0.600 ± 0.100 |"
    rows = list(csv.reader(io.StringIO(text)))
    assert rows[0] == ["dataset", "model", "seeds", "gnelbo_x1e7", "gnelbo_x1e7_se", "kl", "kl_se", "jsd", "jsd_se"]
    assert rows[2][:3] == ["8Gaussian", "S-IntroVAE N(0,I)", "3"]
    assert [float(v) for v in rows[2][3:]] == pytest.approx([1.2, 0.2 / 3 ** 0.5, 3.0, 7 ** 0.5 / 3 ** 0.5,
                                                              0.6, 0.1], rel=1e-5)


def test_images_table_keeps_the_best_r(tmp_path):
    root = str(tmp_path)
    trials = [t for t in experiments.images_trials("full") if t.hparams["dataset"] == "mnist"
              and t.hparams["prior"] == "vamp" and t.hparams["K"] == 10 and not t.hparams["LC"]
              and not t.hparams["IP"] and t.hparams["r"] in (0.0, 10.0) and t.hparams["seed"] < 2]
    assert len(trials) == 4
    values = {(0.0, 0): (10.0, 0.70, 20.0), (0.0, 1): (14.0, 0.72, 22.0),
              (10.0, 0): (8.0, 0.90, 30.0), (10.0, 1): (9.0, 0.80, 31.0)}
    for trial in trials:
        fd, svm, _ = values[(trial.hparams["r"], trial.hparams["seed"])]
        write_json_atomic(os.path.join(root, trial.run_dir, "eval.json"),
                          dict(epochs_trained=220, fd_lenet_gen=fd, svm_many=svm))
    markdown, _ = sweep_tables.images_table(root, trials, 3)
    row = markdown.splitlines()[2].split(" | ")
    assert "FD-LeNet (gen)" in markdown.splitlines()[0]
    assert row[:6] == ["| mnist", "MoG(10)", "✗", "✗", "10", "2/3"]
    assert row[7] == "8.500 ± 0.500" and row[12] == "0.850 ± 0.050"
    # with FID in every run the selection is by FID: r = 0 (mean 21 against 30.5)
    for trial in trials:
        fd, svm, fid = values[(trial.hparams["r"], trial.hparams["seed"])]
        write_json_atomic(os.path.join(root, trial.run_dir, "eval.json"),
                          dict(epochs_trained=220, fd_lenet_gen=fd, svm_many=svm, fid_gen=fid))
    markdown, _ = sweep_tables.images_table(root, trials, 3)
    row = markdown.splitlines()[2].split(" | ")
    assert "FID (gen)" in markdown.splitlines()[0] and row[4] == "0" and row[7] == "21.000 ± 1.000"
    # a run with fewer epochs than the preset's is not finished
    write_json_atomic(os.path.join(root, trials[0].run_dir, "eval.json"), dict(epochs_trained=3, fid_gen=1.0))
    assert not trials[0].finished(root)


def test_hparams_command_for_runs_made_by_hand(tmp_path):
    root = str(tmp_path)
    legacy = os.path.join(root, "lvae", "v1", "64", "1.0-86.0-5.0")
    write_pickle_atomic(os.path.join(legacy, "eval.pkl"), {"train_nll": 60.5, "train_elbo": 25.25})
    write_json_atomic(os.path.join(legacy, "config.json"), {"dataset": "mnist", "batch_size": 250, "seed": 3})
    toy = os.path.join(root, "sintrovae2d", "8Gaussian", "sintrovae_gauss_b0.2-0.3-0.9_it30000_vae2000", "seed0")
    write_json_atomic(os.path.join(toy, "eval.json"), dict(kl=1.5, jsd=0.75, gnelbo_x1e7=1.25, seed=0,
                                                           prior="imposed", beta_kl=0.3, dataset="8Gaussian"))
    result = CliRunner().invoke(sweep_command.main, ["hparams"], env={"EXP_LOG_PATH": root})
    assert result.exit_code == 0, result.output
    hparams, metrics = read_hparams(legacy)
    assert hparams == {"method": "lagvae", "z_dim": 64.0, "mi": 1.0, "e1": 86.0, "e2": 5.0, "dataset": "mnist",
                       "batch_size": 250.0, "seed": 3.0}
    assert metrics == {"train_nll": 60.5, "train_elbo": 25.25, "train_neg_elbo": 85.75}
    hparams, metrics = read_hparams(toy)
    assert hparams == {"prior": "imposed", "dataset": "8Gaussian", "seed": 0.0, "beta_kl": 0.3}
    assert metrics == {"kl": 1.5, "jsd": 0.75, "gnelbo_x1e7": 1.25}
