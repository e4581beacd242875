"""End-to-end: examples/lagvae.py and examples/infovae.py on real MNIST (spec 1.1, 1.8-1.10).

To keep the suite short the commands read a small slice of the real files (written in the original IDX
format to a temporary DATA_PREFIX): the 5000 validation images the legacy split drops, 2000 training images
(8 batches of 250) and 500 test images. Runs happen in subprocesses: the legacy run directory, log lines,
TensorBoard scalars, eval.pkl keys and types, `--test` reproducing the evaluation, a finished run not
retrained, and a run stopped with --max-steps that resumes to the same counters and weights as an
uninterrupted one.
"""
import gzip
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest
from click.testing import CliRunner

from test_quiet import start_up_lines

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
LAGVAE_KEYS = {"test_elbo", "test_nll", "test_mmd", "test_l1", "test_l2",
               "train_elbo", "train_nll", "train_mmd", "train_l1", "train_l2"}
INFOVAE_KEYS = {"test_elbo", "test_nll", "test_mmd", "train_elbo", "train_nll", "train_mmd"}
VALIDATION, TRAIN, TEST = 5000, 2000, 500
TRAIN_BATCHES = TRAIN // 250


def write_idx(path, array, magic):
    header = np.array([magic, len(array)] + list(array.shape[1:]), dtype=">i4").tobytes()
    with gzip.open(path, "wb") as stream:
        stream.write(header + array.astype(np.uint8).tobytes())


def read_idx(path, header_ints):
    with gzip.open(path, "rb") as stream:
        return np.frombuffer(stream.read(), dtype=np.uint8, offset=4 * header_ints)


@pytest.fixture
def small_mnist(tmp_path, shared_data_prefix):
    """A DATA_PREFIX whose mnist/ holds the first 7000 training and 500 test images of the real files."""
    source, target = os.path.join(shared_data_prefix, "mnist"), tmp_path / "data" / "mnist"
    target.mkdir(parents=True)
    for kind, count in (("train", VALIDATION + TRAIN), ("t10k", TEST)):
        images = read_idx(os.path.join(source, "%s-images-idx3-ubyte.gz" % kind), 4).reshape(-1, 28, 28)
        labels = read_idx(os.path.join(source, "%s-labels-idx1-ubyte.gz" % kind), 2)
        write_idx(target / ("%s-images-idx3-ubyte.gz" % kind), images[:count], 2051)
        write_idx(target / ("%s-labels-idx1-ubyte.gz" % kind), labels[:count], 2049)
    return str(tmp_path / "data")


def run(script, args, exp_log_path, data_prefix, expect=0):
    env = dict(os.environ, EXP_LOG_PATH=str(exp_log_path), DATA_PREFIX=data_prefix, TF_CPP_MIN_LOG_LEVEL="3")
    done = subprocess.run([sys.executable, os.path.join(REPO, "examples", script)] + args + ["--device", "cpu"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == expect, done.stdout + done.stderr
    assert not start_up_lines(done.stderr), done.stderr  # TensorFlow's start-up noise is hidden
    return done.stdout


def legacy_iterations(batches, log_every):
    """Training steps in one pass when every logging event draws 2 extra batches (spec 1.8)."""
    iteration = drawn = 0
    while drawn < batches:
        iteration += 1
        drawn += 1
        if iteration % log_every == 0:
            drawn += 2
    return iteration


def checkpoint_tensors(folder):
    """{name: array} of the newest checkpoint in `folder` (without the save counter); every command's tests use it."""
    import tensorflow as tf
    reader = tf.train.load_checkpoint(str(folder))
    return {name: reader.get_tensor(name) for name in reader.get_variable_to_shape_map()
            if not name.startswith("save_counter") and "CHECKPOINTABLE" not in name}


def checkpoint_values(logdir):
    return checkpoint_tensors(os.path.join(logdir, "ckpt"))


def load_eval(logdir):
    with open(os.path.join(logdir, "eval.pkl"), "rb") as stream:
        return pickle.load(stream)


def tensorboard_scalars(logdir):
    """{tag: [(step, value)]} as the TensorBoard server's accumulator reads the folder (restarts purged)."""
    from tensorboard.backend.event_processing.plugin_event_accumulator import EventAccumulator
    accumulator = EventAccumulator(logdir, size_guidance={"tensors": 0})
    accumulator.Reload()
    return {tag: [(event.step, float(np.asarray(__import__("tensorflow").make_ndarray(event.tensor_proto))))
                  for event in accumulator.Tensors(tag)] for tag in accumulator.Tags()["tensors"]}


@pytest.mark.slow
def test_lagvae_resume_matches_uninterrupted_and_test_reproduces(tmp_path, small_mnist):
    shared_data_prefix = small_mnist
    flags = ["--mi=1.0", "--e1=86.0", "--e2=5.0", "--epochs", "2", "--log-every", "3"]
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    logdir = os.path.join(interrupted, "lvae", "v1", "64", "1.0-86.0-5.0")

    out = run("lagvae.py", flags + ["--max-steps", "3"], interrupted, shared_data_prefix)
    assert "Stopped at iteration 3" in out and not os.path.exists(os.path.join(logdir, "eval.pkl"))
    out = run("lagvae.py", flags, interrupted, shared_data_prefix)  # resumes inside the epoch
    assert "Resuming" in out
    run("lagvae.py", flags, straight, shared_data_prefix)

    # same counters and, with the same seed, the same weights, multipliers and optimizer state
    resumed = checkpoint_values(logdir)
    uninterrupted = checkpoint_values(os.path.join(straight, "lvae", "v1", "64", "1.0-86.0-5.0"))
    assert set(resumed) == set(uninterrupted)
    # 8 batches per pass: steps 1 2 3 [log: 2 batches] 4 5 6 [iterator empty: no log] in epoch 1, then
    # steps 7 8 9 [log] 10 11 12 [empty] in epoch 2
    assert legacy_iterations(TRAIN_BATCHES, 3) == 6
    assert int(resumed["iteration/.ATTRIBUTES/VARIABLE_VALUE"]) == 12
    assert int(resumed["epoch/.ATTRIBUTES/VARIABLE_VALUE"]) == 2
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)

    # the legacy log line, every 3 iterations when a batch is left for it, in log.txt (appended on resume)
    with open(os.path.join(logdir, "log.txt")) as stream:
        lines = [line for line in stream if line.startswith("Iteration ")]
    assert [int(line.split()[1].rstrip(":")) for line in lines] == [3, 9]
    assert all(len(line.split()) == 14 and line.split()[2:13:2] == ["all", "nll", "elbo", "mmd", "l1", "l2"]
               for line in lines)

    # TensorBoard scalars in the run directory, at the logging iterations
    scalars = tensorboard_scalars(logdir)
    assert set(scalars) == {"train/" + key for key in ("elbo", "nll", "mmd", "loss", "lambda1", "lambda2",
                                                       "vae_loss")}
    assert [step for step, _ in scalars["train/nll"]] == [3, 9]
    for (_, nll), (_, elbo), (_, vae_loss) in zip(scalars["train/nll"], scalars["train/elbo"],
                                                  scalars["train/vae_loss"]):
        assert vae_loss == pytest.approx(nll + elbo, rel=1e-5)

    # eval.pkl: exactly the legacy keys, np.float32 values, plausible numbers after one epoch
    results = load_eval(logdir)
    assert set(results) == LAGVAE_KEYS
    assert all(type(value) is np.float32 for value in results.values())
    assert 150.0 < results["test_nll"] + results["test_elbo"] < 800.0  # 12 steps from about 650-1500
    assert 1.0 < results["train_l1"] < 1.01 and results["train_l1"] == results["test_l1"]
    assert results == load_eval(os.path.join(straight, "lvae", "v1", "64", "1.0-86.0-5.0"))

    # a finished run is not retrained; --test restores and reproduces the evaluation exactly
    out = run("lagvae.py", flags, interrupted, shared_data_prefix)
    assert "already trained" in out
    os.remove(os.path.join(logdir, "eval.pkl"))
    run("lagvae.py", flags + ["--test"], interrupted, shared_data_prefix)
    assert load_eval(logdir) == results
    # legacy key order (test split written, then train split: the new keys first), and --test appends to
    # log.txt where the legacy logger truncated it (README deviations): the training log lines are kept
    assert [key.split("_")[0] for key in load_eval(logdir)] == ["train"] * 5 + ["test"] * 5
    with open(os.path.join(logdir, "log.txt")) as stream:
        text = stream.read()
    assert [int(line.split()[1].rstrip(":")) for line in text.splitlines() if line.startswith("Iteration ")] == [3, 9]
    assert text.count("| test_nll") == 2 and text.count("| train_nll") == 2  # evaluated after training and by --test


@pytest.mark.slow
def test_lagvae_checkpoint_every_saves_inside_the_epoch_and_a_resume_from_there_matches(tmp_path, small_mnist):
    """--checkpoint-every 2 (training steps) checkpoints at iterations 2 and 4 inside the 8-batch epoch; the
    same --max-steps again does nothing; a run resumed from the iteration-4 checkpoint (the newer one damaged)
    ends as an uninterrupted run without the flag."""
    import tensorflow as tf
    flags = ["--mi=1.0", "--e1=86.0", "--e2=5.0", "--epochs", "1", "--log-every", "3"]
    interrupted, straight = tmp_path / "interrupted", tmp_path / "straight"
    logdir = os.path.join(interrupted, "lvae", "v1", "64", "1.0-86.0-5.0")
    ckpt = os.path.join(logdir, "ckpt")
    out = run("lagvae.py", flags + ["--checkpoint-every", "2", "--max-steps", "5"], interrupted, small_mnist)
    assert "Stopped at iteration 5, epoch 1/1 (--max-steps 5); checkpoint saved in %s." % ckpt in out

    def counters(path):
        reader = tf.train.load_checkpoint(path)
        return tuple(int(reader.get_tensor(name + "/.ATTRIBUTES/VARIABLE_VALUE"))
                     for name in ("iteration", "batches_in_epoch", "epoch"))
    kept = list(tf.train.get_checkpoint_state(ckpt).all_model_checkpoint_paths)
    # (the two newest are kept) steps 1 2 [ckpt] 3 [log: 2 batches] 4 [ckpt: 6 batches drawn] 5 [stop]
    assert [os.path.basename(path) for path in kept] == ["ckpt-2", "ckpt-3"]
    assert [counters(path) for path in kept] == [(4, 6, 0), (5, 7, 0)]

    out = run("lagvae.py", flags + ["--max-steps", "5"], interrupted, small_mnist)   # reached: nothing more
    assert "Stopped at iteration 5, epoch 1/1 (--max-steps 5)" in out and "Resuming" not in out
    assert list(tf.train.get_checkpoint_state(ckpt).all_model_checkpoint_paths) == kept

    data = kept[-1] + ".data-00000-of-00001"
    with open(data, "r+b") as stream:                     # the newest is damaged: resume from iteration 4
        stream.truncate(os.path.getsize(data) // 2)
    out = run("lagvae.py", flags, interrupted, small_mnist)
    assert "Resuming %s/ at iteration 4, epoch 1/1 (resumed from %s/ckpt-2)." % (logdir, ckpt) in out
    run("lagvae.py", flags, straight, small_mnist)
    resumed = checkpoint_values(logdir)
    uninterrupted = checkpoint_values(os.path.join(straight, "lvae", "v1", "64", "1.0-86.0-5.0"))
    assert set(resumed) == set(uninterrupted) and int(resumed["epoch/.ATTRIBUTES/VARIABLE_VALUE"]) == 1
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)
    assert load_eval(logdir) == load_eval(os.path.join(straight, "lvae", "v1", "64", "1.0-86.0-5.0"))


@pytest.mark.slow
def test_infovae_trains_logs_table_and_test_restores(tmp_path, small_mnist):
    shared_data_prefix = small_mnist
    flags = ["--mi=1.0", "--e1=1.0", "--e2=1.0", "--epochs", "1", "--log-every", "3"]
    logdir = os.path.join(tmp_path, "infovae", "v1", "64", "1.0-1.0-1.0")
    out = run("infovae.py", flags, tmp_path, shared_data_prefix)
    assert "| vae_loss" in out and "Iteration" not in out  # the legacy 4-key table
    results = load_eval(logdir)
    assert set(results) == INFOVAE_KEYS and all(type(v) is np.float32 for v in results.values())
    scalars = tensorboard_scalars(logdir)
    assert set(scalars) == {"train/elbo", "train/nll", "train/mmd", "train/loss", "train/vae_loss"}
    # legacy InfoVAE --test crashed (no restore); here it restores and gives the same numbers
    with open(os.path.join(logdir, "eval.pkl"), "wb") as stream:  # an old extra key survives the merge
        pickle.dump({"old_key": 1.0, "test_nll": 0.0}, stream)
    run("infovae.py", flags + ["--test"], tmp_path, shared_data_prefix)
    merged = load_eval(logdir)
    assert merged.pop("old_key") == 1.0
    assert merged == results
    assert os.path.exists(os.path.join(logdir, "eval.json"))


@pytest.mark.parametrize("args, message", [
    (["--e2", "-1"], "--e2"),
    (["--e1", "0"], "--e1"),
    (["--e1", "nan"], "finite"),
    (["--batch-size", "0"], "--batch-size"),
    (["--epochs", "0"], "--epochs"),
    (["--dataset", "cifar10"], "--dataset"),
])
def test_impossible_flags_are_refused_before_tensorflow(args, message):
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import lagvae
    result = CliRunner().invoke(lagvae.main, args)
    assert result.exit_code == 2 and message in result.output


def test_test_flag_without_a_trained_run_is_one_line(tmp_path, monkeypatch):
    sys.path.insert(0, os.path.join(REPO, "examples"))
    import infovae
    monkeypatch.setenv("EXP_LOG_PATH", str(tmp_path))
    result = CliRunner().invoke(infovae.main, ["--test"])
    assert result.exit_code == 2
    assert "no checkpoint" in result.output and "without --test" in result.output
    monkeypatch.delenv("EXP_LOG_PATH")
    result = CliRunner().invoke(infovae.main, [])
    assert result.exit_code == 2 and "EXP_LOG_PATH is not set" in result.output
