"""A LagVAE run killed with SIGKILL in the middle of training resumes from its last checkpoint and ends
with the same counters, weights, multipliers and optimizer state as a run that was never interrupted, and
the same TensorBoard curves."""
import os
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from test_legacy_commands import (REPO, checkpoint_values, load_eval, run, small_mnist,  # noqa: F401
                                  tensorboard_scalars)

FLAGS = ["--mi=-1.0", "--e1=90.0", "--e2=5.0", "--epochs", "6", "--log-every", "5"]
RUN = os.path.join("lvae", "v1", "64", "-1.0-90.0-5.0")


def start(exp_log_path, data_prefix):
    env = dict(os.environ, EXP_LOG_PATH=str(exp_log_path), DATA_PREFIX=data_prefix, TF_CPP_MIN_LOG_LEVEL="3")
    return subprocess.Popen([sys.executable, os.path.join(REPO, "examples", "lagvae.py")] + FLAGS
                            + ["--device", "cpu"], cwd=REPO, env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


@pytest.mark.slow
def test_kill_9_during_training_resumes_to_the_uninterrupted_result(tmp_path, small_mnist):
    killed, straight = tmp_path / "killed", tmp_path / "straight"
    state_file = os.path.join(killed, RUN, "ckpt", "checkpoint")
    process = start(killed, small_mnist)
    deadline = time.time() + 300
    while not os.path.exists(state_file) and process.poll() is None and time.time() < deadline:
        time.sleep(0.02)
    process.send_signal(signal.SIGKILL)  # no chance to clean up: only the checkpoints on disk survive
    assert process.wait(timeout=60) == -signal.SIGKILL
    assert not os.path.exists(os.path.join(killed, RUN, "eval.pkl")), "the run finished before it was killed"
    epochs_at_kill = int(checkpoint_values(os.path.join(killed, RUN))["epoch/.ATTRIBUTES/VARIABLE_VALUE"])
    assert 1 <= epochs_at_kill < 6

    out = run("lagvae.py", FLAGS, killed, small_mnist)
    assert "Resuming" in out
    run("lagvae.py", FLAGS, straight, small_mnist)

    resumed = checkpoint_values(os.path.join(killed, RUN))
    uninterrupted = checkpoint_values(os.path.join(straight, RUN))
    assert int(resumed["epoch/.ATTRIBUTES/VARIABLE_VALUE"]) == 6
    assert set(resumed) == set(uninterrupted)
    for name in resumed:
        np.testing.assert_array_equal(resumed[name], uninterrupted[name], err_msg=name)
    assert load_eval(os.path.join(killed, RUN)) == load_eval(os.path.join(straight, RUN))
    # TensorBoard (the server's accumulator) shows the same curves: scalars the killed process wrote after its
    # last checkpoint are replaced, not shown twice
    assert tensorboard_scalars(os.path.join(killed, RUN)) == tensorboard_scalars(os.path.join(straight, RUN))

