"""The shared plumbing: environment paths, atomic writes, checkpoints, device choice."""
import json
import os
import pickle
import subprocess
import sys

import numpy as np
import pytest

from utils.plumbing import atomic

from utils.plumbing import devices

from utils.plumbing import paths
from utils.plumbing.errors import UserError


def test_missing_environment_variables_are_one_line_errors(monkeypatch):
    monkeypatch.delenv("EXP_LOG_PATH", raising=False)
    monkeypatch.delenv("DATA_PREFIX", raising=False)
    with pytest.raises(UserError, match=r"EXP_LOG_PATH is not set") as error:
        paths.obtain_log_path("lvae/v1/64/1.0-86.0-5.0/")
    assert "\n" not in str(error.value)
    with pytest.raises(UserError, match=r"DATA_PREFIX is not set"):
        paths.data_path("mnist")


def test_paths_follow_the_legacy_join(monkeypatch, tmp_path):
    monkeypatch.setenv("EXP_LOG_PATH", str(tmp_path))
    assert paths.obtain_log_path("lvae/v1/64/1.0-86.0-5.0/") == os.path.join(str(tmp_path), "lvae/v1/64/1.0-86.0-5.0/")
    monkeypatch.setenv("DATA_PREFIX", str(tmp_path / "data"))
    assert paths.data_path("mnist") == str(tmp_path / "data" / "mnist")
    assert paths.data_path("/elsewhere/mnist") == "/elsewhere/mnist"


def test_atomic_writes_replace_whole_files_and_leave_no_temporaries(tmp_path):
    target = tmp_path / "eval.pkl"
    atomic.write_pickle_atomic(str(target), {"test_nll": np.float32(88.5)})
    atomic.write_pickle_atomic(str(target), {"test_nll": np.float32(87.25), "test_elbo": np.float32(25.0)})
    with open(target, "rb") as stream:
        loaded = pickle.load(stream)
    assert loaded == {"test_nll": np.float32(87.25), "test_elbo": np.float32(25.0)}
    assert type(loaded["test_nll"]) is np.float32
    atomic.write_json_atomic(str(tmp_path / "eval.json"), {"b": np.float32(1.5), "a": np.arange(2)})
    assert json.loads((tmp_path / "eval.json").read_text()) == {"a": [0, 1], "b": 1.5}
    assert sorted(os.listdir(tmp_path)) == ["eval.json", "eval.pkl"]


def test_atomic_write_failure_keeps_the_old_file(tmp_path):
    target = tmp_path / "results.txt"
    atomic.write_text_atomic(str(target), "old\n")

    class Unpicklable:
        def __reduce__(self):
            raise RuntimeError("cannot pickle")

    with pytest.raises(RuntimeError):
        atomic.write_pickle_atomic(str(target), Unpicklable())
    assert target.read_text() == "old\n"
    assert os.listdir(tmp_path) == ["results.txt"]


def test_checkpoint_round_trip_and_required_restore(tmp_path):
    import tensorflow as tf
    from utils.plumbing.checkpoints import RunCheckpoint

    weights = tf.Variable([1.0, 2.0])
    step = tf.Variable(0, dtype=tf.int64)
    generator = tf.random.Generator.from_seed(3)
    checkpoint = RunCheckpoint(str(tmp_path), weights=weights, step=step, generator=generator)
    assert checkpoint.restore_latest() is False
    weights.assign([5.0, 6.0])
    step.assign(7)
    expected_draw = None
    checkpoint.save()
    expected_draw = generator.uniform([3]).numpy()

    fresh_weights = tf.Variable([0.0, 0.0])
    fresh_step = tf.Variable(0, dtype=tf.int64)
    fresh_generator = tf.random.Generator.from_seed(99)
    restored = RunCheckpoint(str(tmp_path), weights=fresh_weights, step=fresh_step, generator=fresh_generator)
    assert restored.restore_latest(required=True) is True
    np.testing.assert_array_equal(fresh_weights.numpy(), [5.0, 6.0])
    assert int(fresh_step.numpy()) == 7
    np.testing.assert_array_equal(fresh_generator.uniform([3]).numpy(), expected_draw)

    with pytest.raises(UserError, match="no checkpoint"):
        RunCheckpoint(str(tmp_path / "empty"), weights=tf.Variable(1.0)).restore_latest(required=True)


def test_checkpoint_of_another_model_is_a_clear_error(tmp_path):
    import tensorflow as tf
    from utils.plumbing.checkpoints import RunCheckpoint

    RunCheckpoint(str(tmp_path), weights=tf.Variable([1.0, 2.0])).save()
    with pytest.raises(UserError, match="does not match"):
        RunCheckpoint(str(tmp_path), weights=tf.Variable([1.0, 2.0, 3.0])).restore_latest()


def test_device_choice_never_blocks_and_falls_back_to_cpu(monkeypatch):
    messages = []
    monkeypatch.setattr(devices, "available_gpus", lambda *args, **kwargs: [])
    monkeypatch.delenv("CUDA_VISIBLE_DEVICES", raising=False)
    assert devices.choose_device("auto", announce=messages.append) == "CPU"
    assert messages == ["No free GPU found: running on the CPU."]
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "-1"

    monkeypatch.setattr(devices, "available_gpus", lambda *args, **kwargs: [3, 1])
    monkeypatch.setattr(devices, "installed_gpus", lambda: [0, 1, 2, 3])  # a machine with four GPUs
    assert devices.choose_device("auto", announce=messages.append) == "GPU 3"
    assert os.environ["CUDA_VISIBLE_DEVICES"] == "3"
    assert devices.choose_device("1") == "GPU 1"
    assert devices.choose_device("cpu") == "CPU"
    with pytest.raises(UserError, match="--device must be"):
        devices.choose_device("tpu")
    with pytest.raises(UserError, match=r"^--device 7: this machine has no GPU 7 \(GPUs: 0, 1, 2, 3\)"):
        devices.choose_device("7")


def test_gputil_on_a_machine_without_gpus_returns_no_gpu():
    # On the CI machine there is no nvidia-smi: GPUtil must answer [] at once, not raise or wait.
    assert isinstance(devices.available_gpus(), list)


def test_exit_on_user_error_prints_one_line(tmp_path):
    script = tmp_path / "command.py"
    script.write_text(
        "import sys; sys.path.insert(0, %r)\n"
        "from utils.plumbing.errors import UserError, exit_on_user_error\n"
        "@exit_on_user_error\n"
        "def main():\n"
        "    raise UserError('DATA_PREFIX is not set: set it.')\n"
        "main()\n" % os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    result = subprocess.run([sys.executable, str(script)], capture_output=True, text=True)
    assert result.returncode == 2
    assert result.stderr == "error: DATA_PREFIX is not set: set it.\n"
    assert result.stdout == ""


@pytest.mark.parametrize("umask, mode", [(0o022, 0o644), (0o027, 0o640), (0o077, 0o600)])
def test_atomically_written_files_respect_the_umask(tmp_path, umask, mode):
    """Legacy eval.pkl came from open(path, 'wb'): 0666 minus the umask. Every atomic writer (eval.pkl and
    eval.json through write_evaluation, config.json through check_run_config, text / PNG / pickle / JSON
    files) must give that mode, also when it replaces an existing file (mkstemp made them all 0600)."""
    import stat

    from utils.training import legacy as legacy_training

    from utils.plumbing import results
    from utils.figures.toy import plot_samples
    previous = os.umask(umask)
    try:
        results.write_evaluation(str(tmp_path), {"test_nll": np.float32(88.5)})
        results.write_evaluation(str(tmp_path), {"train_nll": np.float32(87.5)})  # replaces both files
        legacy_training.check_run_config(str(tmp_path), dict(dataset="mnist", batch_size=250, seed=0))
        atomic.write_text_atomic(str(tmp_path / "results_log_soft_intro_vae.txt"), "line\n")
        atomic.write_json_atomic(str(tmp_path / "sub" / "eval.json"), {"a": 1})  # a folder made on the way
        atomic.write_pickle_atomic(str(tmp_path / "x.pkl"), {"a": 1})
        plot_samples(str(tmp_path / "samples.png"), np.zeros((4, 2)), np.ones((4, 2)), 2.0)
        plain = tmp_path / "plain.bin"  # what open(path, 'wb') gives under this umask
        with open(plain, "wb") as stream:
            stream.write(b"x")
    finally:
        os.umask(previous)
    written = ["eval.pkl", "eval.json", "config.json", "results_log_soft_intro_vae.txt", "sub/eval.json", "x.pkl",
               "samples.png"]
    assert stat.S_IMODE(os.stat(plain).st_mode) == mode
    assert {name: oct(stat.S_IMODE(os.stat(tmp_path / name).st_mode)) for name in written} == {
        name: oct(mode) for name in written}
    assert not [name for name in os.listdir(tmp_path) if name.endswith(".tmp")]


def test_eval_pkl_keys_in_the_legacy_order(tmp_path):
    """Legacy `_write_evaluation(d)`: d's keys first, then the old file's keys that d lacks. `test()` writes the
    test split, then the train split, so the legacy eval.pkl lists train_* first, then test_*; a key of the
    old file is replaced, not moved."""
    from utils.plumbing import results
    results.write_evaluation(str(tmp_path), {"old": 1.0, "train_nll": 0.0})
    results.write_evaluation(str(tmp_path), {"test_elbo": np.float32(25.0), "test_nll": np.float32(88.0)})
    merged = results.write_evaluation(str(tmp_path), {"train_elbo": np.float32(26.0), "train_nll": np.float32(87.0)})
    expected = ["train_elbo", "train_nll", "test_elbo", "test_nll", "old"]
    assert list(merged) == expected
    with open(tmp_path / "eval.pkl", "rb") as stream:
        loaded = pickle.load(stream)
    assert list(loaded) == expected and loaded["train_nll"] == np.float32(87.0) and loaded["old"] == 1.0
