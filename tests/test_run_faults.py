"""What a cluster does to a job, done for real to the legacy command (examples/lagvae.py on a small slice of
real MNIST): SIGTERM / SIGINT, a damaged newest checkpoint, a second process on the same run folder, a full
disk, an EXP_LOG_PATH that is a file or cannot be written, missing data. Each ends in one line, saves what
was done, and a resumed run ends bit-identical to an uninterrupted one."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from test_legacy_commands import REPO, checkpoint_values, load_eval, run, small_mnist  # noqa: F401

FLAGS = ["--mi=-1.0", "--e1=90.0", "--e2=5.0", "--epochs", "4", "--log-every", "5"]
RUN = os.path.join("lvae", "v1", "64", "-1.0-90.0-5.0")


def command_env(exp_log_path, data_prefix):
    return dict(os.environ, EXP_LOG_PATH=str(exp_log_path), DATA_PREFIX=str(data_prefix), TF_CPP_MIN_LOG_LEVEL="3",
                PYTHONUNBUFFERED="1")


def start(exp_log_path, data_prefix, flags=FLAGS):
    return subprocess.Popen([sys.executable, os.path.join(REPO, "examples", "lagvae.py")] + flags
                            + ["--device", "cpu"], cwd=REPO, env=command_env(exp_log_path, data_prefix),
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def wait_for(path, process, seconds=300):
    deadline = time.time() + seconds
    while not os.path.exists(path) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    assert os.path.exists(path), "the command ended before %s appeared" % path


def assert_same_run(one, other):
    first, second = checkpoint_values(one), checkpoint_values(other)
    assert set(first) == set(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)
    assert load_eval(one) == load_eval(other)


@pytest.fixture
def uninterrupted(tmp_path, small_mnist):
    run("lagvae.py", FLAGS, tmp_path / "straight", small_mnist)
    return os.path.join(tmp_path / "straight", RUN)


def last_line(text):
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else ""


@pytest.mark.slow
@pytest.mark.parametrize("signal_number", [signal.SIGTERM, signal.SIGINT])
def test_a_stop_signal_checkpoints_at_the_next_step_and_the_resumed_run_is_identical(
        tmp_path, small_mnist, uninterrupted, signal_number):
    stopped = tmp_path / "stopped"
    process = start(stopped, small_mnist)
    wait_for(os.path.join(stopped, RUN, "ckpt", "checkpoint"), process)  # one epoch done: now mid-epoch 2
    time.sleep(0.3)
    process.send_signal(signal_number)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 128 + signal_number, out + err
    name = signal.Signals(signal_number).name
    assert "Stopped by %s at iteration" % name in out and "Run the same command again to resume" in out
    assert "Traceback" not in err and "Aborted" not in out + err
    assert not os.path.exists(os.path.join(stopped, RUN, "eval.pkl"))
    saved = checkpoint_values(os.path.join(stopped, RUN))
    assert int(saved["epoch/.ATTRIBUTES/VARIABLE_VALUE"]) < 4
    # the checkpoint was written when the signal came (mid-epoch), not only at the last epoch boundary
    assert int(saved["iteration/.ATTRIBUTES/VARIABLE_VALUE"]) % 7 != 0 or \
        int(saved["batches_in_epoch/.ATTRIBUTES/VARIABLE_VALUE"]) > 0
    out = run("lagvae.py", FLAGS, stopped, small_mnist)
    assert "Resuming" in out
    assert_same_run(os.path.join(stopped, RUN), uninterrupted)


@pytest.mark.slow
def test_a_damaged_newest_checkpoint_falls_back_to_the_previous_one(tmp_path, small_mnist, uninterrupted):
    damaged = tmp_path / "damaged"
    run("lagvae.py", FLAGS + ["--max-steps", "9"], damaged, small_mnist)
    run("lagvae.py", FLAGS + ["--max-steps", "17"], damaged, small_mnist)
    ckpt = os.path.join(damaged, RUN, "ckpt")
    import tensorflow as tf
    newest = tf.train.latest_checkpoint(ckpt)
    data = newest + ".data-00000-of-00001"
    with open(data, "r+b") as stream:
        stream.truncate(os.path.getsize(data) // 2)
    env = command_env(damaged, small_mnist)
    done = subprocess.run([sys.executable, os.path.join(REPO, "examples", "lagvae.py")] + FLAGS + ["--device", "cpu"],
                          cwd=REPO, env=env, capture_output=True, text=True, timeout=400)
    assert done.returncode == 0, done.stdout + done.stderr
    warnings = [line for line in done.stderr.splitlines() if line.startswith("warning:")]
    assert len(warnings) == 1 and os.path.basename(newest) in warnings[0] and "cannot be read" in warnings[0]
    assert "Traceback" not in done.stderr
    assert os.path.exists(os.path.join(ckpt, "damaged", os.path.basename(data)))
    assert_same_run(os.path.join(damaged, RUN), uninterrupted)


@pytest.mark.slow
def test_a_second_process_on_the_same_run_folder_is_refused(tmp_path, small_mnist):
    first = start(tmp_path, small_mnist, FLAGS[:-4] + ["--epochs", "50", "--log-every", "5"])
    try:
        wait_for(os.path.join(tmp_path, RUN, "ckpt", "checkpoint"), first)
        line = refused(tmp_path, small_mnist, FLAGS[:-4] + ["--epochs", "50", "--log-every", "5"])
        assert "another process (pid %d" % first.pid in line and "already running in" in line
        assert first.poll() is None, "the first process must not be disturbed"
    finally:
        first.kill()
        first.wait()


def test_the_lock_of_a_killed_process_is_free(tmp_path):
    from utils.plumbing.errors import UserError
    from utils.plumbing.run_lock import RunLock
    holder = subprocess.Popen([sys.executable, "-c", "import sys, time; sys.path.insert(0, %r)\n"
                               "from utils.plumbing.run_lock import RunLock\nRunLock(%r).acquire()\nprint('held', flush=True)\n"
                               "time.sleep(600)" % (REPO, str(tmp_path))], stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with pytest.raises(UserError, match="pid %d" % holder.pid):
        RunLock(str(tmp_path)).acquire()
    holder.send_signal(signal.SIGKILL)
    holder.wait()
    with RunLock(str(tmp_path)):  # the kernel released the dead process's lock
        with pytest.raises(UserError, match="already running"):
            RunLock(str(tmp_path)).acquire()


def refused(exp_log_path, data_prefix, flags=FLAGS):
    done = subprocess.run([sys.executable, os.path.join(REPO, "examples", "lagvae.py")] + flags + ["--device", "cpu"],
                          cwd=REPO, env=command_env(exp_log_path, data_prefix), capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.strip().splitlines()  # only our line: TensorFlow's start-up noise is hidden
    assert len(lines) == 1 and lines[0].startswith("error: "), done.stderr
    return lines[0]


def test_exp_log_path_that_is_a_file_or_cannot_be_written(tmp_path, shared_data_prefix):
    a_file = tmp_path / "runs"
    a_file.write_text("not a folder")
    assert "is a file, not a folder" in refused(a_file, shared_data_prefix)
    assert a_file.read_text() == "not a folder"
    # /sys refuses new folders even to root: a real unwritable location
    assert "cannot create the run folder" in refused("/sys/lagvae-test-runs", shared_data_prefix)


def test_missing_data_creates_nothing(tmp_path):
    empty = tmp_path / "data"
    (empty / "mnist").mkdir(parents=True)
    runs = tmp_path / "runs"
    refused(runs, empty)
    assert not runs.exists()


@pytest.mark.slow
def test_a_full_disk_is_one_line_and_keeps_the_checkpoints(tmp_path, small_mnist):
    run("lagvae.py", FLAGS + ["--max-steps", "9"], tmp_path, small_mnist)
    log = os.path.join(tmp_path, RUN, "log.txt")
    os.remove(log)
    os.symlink("/dev/full", log)  # every write to it fails with ENOSPC, as on a full disk
    line = refused(tmp_path, small_mnist)
    assert "No space left on device" in line and "run the same command again" in line
    os.remove(log)
    run("lagvae.py", FLAGS, tmp_path, small_mnist)  # resumes and finishes once there is room
    assert os.path.exists(os.path.join(tmp_path, RUN, "eval.pkl"))


@pytest.mark.slow
def test_scalars_of_a_process_killed_before_its_first_checkpoint_are_not_shown_twice(tmp_path, small_mnist,
                                                                                   uninterrupted):
    from test_legacy_commands import tensorboard_scalars
    import shutil
    early = tmp_path / "early"
    run("lagvae.py", FLAGS + ["--max-steps", "9"], early, small_mnist)
    shutil.rmtree(os.path.join(early, RUN, "ckpt"))  # as if killed after writing scalars, before any checkpoint
    out = run("lagvae.py", FLAGS, early, small_mnist)
    assert "Resuming" not in out
    assert tensorboard_scalars(os.path.join(early, RUN)) == tensorboard_scalars(uninterrupted)
