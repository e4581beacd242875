"""examples/sintrovae_images.py end to end on a subset of the real MNIST: 2 warm-up epochs (VampPrior -> MoG
at epoch 1), an interruption, a resumed adversarial epoch, evaluation, and a third call that does nothing."""
import csv
import glob
import json
import os
import subprocess
import sys

import pytest

from test_legacy_commands import checkpoint_tensors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = ["--dataset", "mnist", "--subset", "200", "--epochs", "3", "--warmup-epochs", "2", "--mog-warmup", "1",
         "--max-steps-per-epoch", "2", "--batch-size", "8", "--mc", "2", "--num-components", "3",
         "--learnable-weights", "--intro-prior", "--responsibility-weight", "10", "--eval-samples", "60",
         "--device", "cpu"]
RUN = os.path.join("sintrovae_images", "mnist", "vamp3_lc1_ip1_swg1_r10_mc2_warm2_mogwarm1_bs8_subset200_steps2",
                   "seed0")


def _run(args, data_prefix, logs):
    env = dict(os.environ, DATA_PREFIX=data_prefix, EXP_LOG_PATH=logs, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.run([sys.executable, os.path.join(REPO, "examples", "sintrovae_images.py")] + args,
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=500)


def _image_tags(tb_dir):
    import tensorflow as tf
    tags = []
    for path in glob.glob(os.path.join(tb_dir, "events.out.tfevents.*")):
        for record in tf.data.TFRecordDataset(path):
            event = tf.compat.v1.Event.FromString(record.numpy())
            tags += [(v.tag, event.step) for v in event.summary.value
                     if v.metadata.plugin_data.plugin_name == "images"]
    return tags


@pytest.mark.slow
def test_command_trains_resumes_evaluates_and_skips_when_done(tmp_path, shared_data_prefix):
    logs = str(tmp_path)
    run_dir = os.path.join(logs, RUN)
    first = _run(FLAGS + ["--stop-after", "2"], shared_data_prefix, logs)
    assert first.returncode == 0, first.stderr[-3000:]
    assert "stopped after 2 epochs" in first.stdout
    assert os.path.isfile(os.path.join(run_dir, "ckpt", "checkpoint"))
    assert not os.path.exists(os.path.join(run_dir, "eval.json"))
    with open(os.path.join(run_dir, "progress.csv")) as stream:
        rows = list(csv.DictReader(stream))
    assert [row["phase"] for row in rows] == ["vae", "vae"]
    assert [row["prior_kind"] for row in rows] == ["vamp", "mog"]  # converted at epoch warmup - mog_warmup = 1

    second = _run(FLAGS + ["--run-eagerly"], shared_data_prefix, logs)  # same run: a test-speed flag
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stdout
    with open(os.path.join(run_dir, "progress.csv")) as stream:
        rows = list(csv.DictReader(stream))
    assert [row["epoch"] for row in rows] == ["0", "1", "2"] and rows[2]["phase"] == "adversarial"
    for key in ("lossE", "lossD", "kl_real", "kl_fake", "expelbo_fake", "neg_entropy"):
        assert float(rows[2][key]) == float(rows[2][key])  # present and not NaN
    with open(os.path.join(run_dir, "eval.json")) as stream:
        results = json.load(stream)
    assert results["epochs_trained"] == 3 and results["prior_kind"] == "mog" and results["eval_samples"] == 60
    for key in ("svm_few", "svm_many", "knn_few", "knn_many", "precision_lenet", "recall_lenet"):
        assert 0.0 <= results[key] <= 1.0
    assert 0.0 <= results["assignment_entropy"] <= 1.0 and 0 <= results["inactive_modes"] <= 3
    assert results["test_elbo"] == pytest.approx(-(results["test_rec"] + results["test_kl"]))
    assert results["test_rec"] > 0.5 * 784 * 1.8378  # at least the 0.5 log(2 pi) per pixel
    assert results["fd_lenet_gen"] > 0 and results["fd_lenet_rec"] > 0 and "fid_gen" not in results
    for tag in ("samples", "reconstructions"):
        assert len(glob.glob(os.path.join(run_dir, "images", "%s_epoch00[012].png" % tag))) == 3
    assert sorted(_image_tags(os.path.join(run_dir, "tb"))) == sorted(
        [(tag, step) for tag in ("samples", "reconstructions") for step in (0, 1, 2)])

    third = _run(FLAGS, shared_data_prefix, logs)
    assert third.returncode == 0 and "already trained for 3 epochs and evaluated" in third.stdout


def test_bad_flags_are_one_line_errors(tmp_path, shared_data_prefix):
    result = _run(["--warmup-epochs", "2", "--mog-warmup", "5"], shared_data_prefix, str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1] == "error: --mog-warmup (5) must not exceed --warmup-epochs (2)."
    result = _run(["--inception-graph", str(tmp_path / "none.pb"), "--device", "cpu"], shared_data_prefix,
                  str(tmp_path))
    assert result.returncode == 2 and "inception-2015-12-05.tgz" in result.stderr.strip().splitlines()[-1]
    result = _run(["--dataset", "svhn"], shared_data_prefix, str(tmp_path))
    assert result.returncode == 2 and "Invalid value for '--dataset'" in result.stderr


RESUME_FLAGS = ["--dataset", "mnist", "--subset", "64", "--epochs", "2", "--warmup-epochs", "1", "--mog-warmup", "0",
                "--max-steps-per-epoch", "2", "--batch-size", "8", "--mc", "2", "--num-components", "3",
                "--eval-samples", "16", "--device", "cpu", "--run-eagerly"]
RESUME_RUN = os.path.join("sintrovae_images", "mnist", "vamp3_lc0_ip0_swg0_r0_mc2_warm1_mogwarm0_bs8_subset64_steps2",
                          "seed0")


@pytest.mark.slow
def test_a_run_resumed_just_before_evaluation_writes_the_same_eval_json(tmp_path, shared_data_prefix):
    """A process killed after its last checkpoint and before eval.json is rerun: it restores the final
    checkpoint (BatchNorm moving statistics of every residual block included) and evaluates the same model."""
    logs = str(tmp_path)
    eval_path = os.path.join(logs, RESUME_RUN, "eval.json")
    first = _run(RESUME_FLAGS, shared_data_prefix, logs)
    assert first.returncode == 0, first.stderr[-3000:]
    with open(eval_path) as stream:
        uninterrupted = json.load(stream)
    os.remove(eval_path)  # the state of a run killed between its last checkpoint and its evaluation
    second = _run(RESUME_FLAGS, shared_data_prefix, logs)
    assert second.returncode == 0, second.stderr[-3000:]
    assert "resumed from" in second.stdout
    with open(eval_path) as stream:
        resumed = json.load(stream)
    for results in (uninterrupted, resumed):
        results.pop("train_seconds_last_run")
    assert resumed == uninterrupted
    # the authors' protocol: FD-LeNet (no --inception-graph) at the start of the selection epochs (0 and 1 of a
    # 2-epoch run), every metric on the best-scoring model, whose checkpoint is kept beside the last one
    scores = {int(epoch): score for epoch, score in resumed["selection_scores"].items()}
    assert sorted(scores) == [0, 1] and resumed["selection_metric"] == "fd_lenet_gen"
    assert resumed["evaluated_epoch"] == min(scores, key=scores.get)
    assert resumed["fd_lenet_gen"] == pytest.approx(scores[resumed["evaluated_epoch"]], rel=1e-5)
    run_dir = os.path.join(logs, RESUME_RUN)
    assert os.path.isfile(os.path.join(run_dir, "ckpt_best", "checkpoint"))
    assert os.path.isfile(os.path.join(run_dir, "ckpt", "checkpoint"))
    with open(os.path.join(run_dir, "model_selection.json")) as stream:
        assert json.load(stream)["best_epoch"] == resumed["evaluated_epoch"]


def test_selection_epochs_are_the_authors_and_scale_with_the_run_length():
    from utils.training.images import selection_epochs
    assert selection_epochs(220) == [0, 80, 120, 160, 200, 219]  # TI: epoch 0, >= 60 and % 40 == 0, the last
    assert selection_epochs(100) == [0, 36, 55, 73, 91, 99]
    assert selection_epochs(3) == [0, 1, 2] and selection_epochs(2) == [0, 1] and selection_epochs(1) == [0]


SIGNAL_FLAGS = ["--dataset", "mnist", "--subset", "64", "--epochs", "2", "--warmup-epochs", "1", "--mog-warmup", "0",
                "--max-steps-per-epoch", "4", "--batch-size", "8", "--mc", "2", "--num-components", "3",
                "--learnable-weights", "--intro-prior", "--responsibility-weight", "10", "--eval-samples", "16",
                "--device", "cpu", "--run-eagerly"]
SIGNAL_RUN = os.path.join("sintrovae_images", "mnist", "vamp3_lc1_ip1_swg1_r10_mc2_warm1_mogwarm0_bs8_subset64_steps4",
                          "seed0")


@pytest.mark.slow
def test_sigterm_stops_at_the_next_iteration_and_the_rerun_ends_identical_to_an_uninterrupted_run(
        tmp_path, shared_data_prefix):
    """A preempted job (SIGTERM) in the adversarial epoch: checkpoint at the next iteration, exit 128 + 15 with the
    one-line resume message; the same command then finishes with the weights, optimizer states, selection and
    eval.json of a run that was never interrupted."""
    import re
    import shutil
    import signal
    import time

    import numpy as np

    from test_quiet import start_up_lines

    straight_logs, stopped_logs = str(tmp_path / "straight"), str(tmp_path / "stopped")
    straight = _run(SIGNAL_FLAGS, shared_data_prefix, straight_logs)
    assert straight.returncode == 0, straight.stderr[-3000:]
    # both runs score with the same FD-LeNet classifier (trained once, cached under EXP_LOG_PATH)
    shutil.copytree(os.path.join(straight_logs, "sintrovae_images", "feature_classifiers"),
                    os.path.join(stopped_logs, "sintrovae_images", "feature_classifiers"))

    run_dir = os.path.join(stopped_logs, SIGNAL_RUN)
    env = dict(os.environ, DATA_PREFIX=shared_data_prefix, EXP_LOG_PATH=stopped_logs, TF_CPP_MIN_LOG_LEVEL="3")
    process = subprocess.Popen([sys.executable, os.path.join(REPO, "examples", "sintrovae_images.py")] + SIGNAL_FLAGS,
                               cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    progress = os.path.join(run_dir, "progress.csv")
    deadline = time.time() + 400
    while process.poll() is None and time.time() < deadline and (
            not os.path.exists(progress) or len(open(progress).read().splitlines()) < 2):  # epoch 0 logged
        time.sleep(0.05)
    assert process.poll() is None, "the run ended before the signal: " + process.stderr.read()[-3000:]
    process.send_signal(signal.SIGTERM)
    out, err = process.communicate(timeout=300)
    assert process.returncode == 128 + signal.SIGTERM, out + err
    stopped = re.findall(r"Stopped by SIGTERM at iteration (\d+); checkpoint saved in (\S+)\. Run the same command "
                         r"again to resume\.", out)
    assert len(stopped) == 1 and 4 <= int(stopped[0][0]) < 8, out  # 4 steps per epoch: in or just before epoch 1
    assert stopped[0][1] == os.path.join(run_dir, "ckpt")
    assert "Traceback" not in err and not start_up_lines(err), err
    assert not os.path.exists(os.path.join(run_dir, "eval.json"))

    resumed = _run(SIGNAL_FLAGS, shared_data_prefix, stopped_logs)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    assert "resumed from" in resumed.stdout and not start_up_lines(resumed.stderr), resumed.stderr
    results = []
    for logs in (straight_logs, stopped_logs):
        with open(os.path.join(logs, SIGNAL_RUN, "eval.json")) as stream:
            record = json.load(stream)
        record.pop("train_seconds_last_run")
        results.append(record)
    assert results[0] == results[1]
    for folder in ("ckpt", "ckpt_best"):
        first, second = (checkpoint_tensors(os.path.join(logs, SIGNAL_RUN, folder))
                         for logs in (straight_logs, stopped_logs))
        assert set(first) == set(second) and len(first) > 50, folder
        for name in first:
            np.testing.assert_array_equal(first[name], second[name], err_msg="%s %s" % (folder, name))
