"""The sweep scheduler with a fake child command: skipping finished runs, resuming interrupted ones,
parallel slots, per-run output files and the summary table."""
import os
import pickle
import textwrap

import numpy as np
import pytest
from click.testing import CliRunner

import examples.sweep as sweep_command
from utils import sweep
from utils.legacy_runs import run_directory

# A stand-in for examples/lagvae.py / infovae.py: resumes from <logdir>/epochs_done, can crash once,
# writes eval.pkl (train -ELBO = e1) when it reaches --epochs, records how many children run at once.
FAKE_CHILD = textwrap.dedent('''
    import argparse, os, pickle, sys, time
    import numpy as np
    parser = argparse.ArgumentParser()
    for flag in ("--z_dim", "--epochs"):
        parser.add_argument(flag, type=int)
    for flag in ("--mi", "--e1", "--e2"):
        parser.add_argument(flag, type=float)
    parser.add_argument("--device")
    parser.add_argument("--tag", default="")
    args = parser.parse_args()
    method = os.path.basename(sys.argv[0])[:-3]
    folder = {"lagvae": "lvae/v1", "infovae": "infovae/v1"}[method]
    logdir = os.path.join(os.environ["EXP_LOG_PATH"], folder, str(args.z_dim),
                          "{}-{}-{}".format(args.mi, args.e1, args.e2))
    os.makedirs(logdir, exist_ok=True)
    running = os.path.join(os.environ["EXP_LOG_PATH"], "running")
    os.makedirs(running, exist_ok=True)
    marker = os.path.join(running, str(os.getpid()))
    open(marker, "w").close()
    with open(os.path.join(os.environ["EXP_LOG_PATH"], "concurrency"), "a") as log:
        log.write("%d\\n" % len(os.listdir(running)))
    state = os.path.join(logdir, "epochs_done")
    done = int(open(state).read()) if os.path.exists(state) else 0
    print("start at epoch %d device %s tag %s" % (done, args.device, args.tag))
    crash = os.environ.get("FAKE_CRASH_E1")
    time.sleep(0.5)
    for epoch in range(done, args.epochs):
        if crash and float(crash) == args.e1 and epoch == 2:
            os.remove(marker)
            print("crashing", file=sys.stderr)
            sys.exit(3)
        open(state, "w").write(str(epoch + 1))
    with open(os.path.join(logdir, "eval.pkl"), "wb") as f:
        pickle.dump({"train_nll": np.float32(args.e1 - 20), "train_elbo": np.float32(20),
                     "test_nll": np.float32(args.e1 - 16), "test_elbo": np.float32(20.5)}, f)
    os.remove(marker)
''')


@pytest.fixture
def fake_scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name in ("lagvae.py", "infovae.py"):
        (folder / name).write_text(FAKE_CHILD)
    return str(folder)


def invoke(root, scripts, *args, env=None):
    return CliRunner().invoke(sweep_command.main, ["--logs", root, "--script-dir", scripts, "--devices", "cpu",
                                                   "--epochs", "5", *args], env=env)


def test_sweep_skips_finished_and_resumes_interrupted_runs(tmp_path, fake_scripts):
    root = str(tmp_path / "runs")
    grid = ["--method", "lagvae", "--lagvae-mi", "1,-1", "--e1", "86,90", "--cpu-slots", "2"]
    # First sweep: the e1 = 90 runs crash after 2 epochs.
    result = invoke(root, fake_scripts, *grid, "--", "--tag", "x", env={"FAKE_CRASH_E1": "90"})
    assert result.exit_code == 1, result.output
    assert "4 configurations: 0 finished before, 4 to run on 2 CPU slot(s)" in result.output
    assert "2 run(s) failed" in result.output
    crashed = run_directory(root, "lagvae", 64, -1.0, 90.0, 5.0)
    assert not os.path.exists(os.path.join(crashed, "eval.pkl"))
    assert open(os.path.join(crashed, "epochs_done")).read() == "2"
    output = open(os.path.join(crashed, sweep.OUTPUT_FILE)).read()
    assert "start at epoch 0 device cpu tag x" in output and "crashing" in output and "--e1=90.0" in output
    # two children at once, never more
    assert max(int(n) for n in open(os.path.join(root, "concurrency")).read().split()) == 2

    # Second sweep: the two finished runs are skipped, the two interrupted ones resume at epoch 2.
    result = invoke(root, fake_scripts, *grid)
    assert result.exit_code == 0, result.output
    assert "4 configurations: 2 finished before, 2 to run" in result.output
    finished = run_directory(root, "lagvae", 64, 1.0, 86.0, 5.0)
    assert open(os.path.join(finished, sweep.OUTPUT_FILE)).read().count("# ") == 2   # one attempt only
    output = open(os.path.join(crashed, sweep.OUTPUT_FILE)).read()
    assert "start at epoch 2" in output
    with open(os.path.join(crashed, "eval.pkl"), "rb") as stream:
        assert pickle.load(stream)["train_nll"] == np.float32(70.0)
    # summary: train -ELBO = e1, test -ELBO = e1 + 4.5
    lines = [line.split() for line in result.output.splitlines() if line.strip().startswith("lagvae")]
    assert len(lines) == 4
    rows = {(row[1], row[2]): row for row in lines}
    assert rows[("-1", "90")][4] == "done" and rows[("-1", "90")][6] == "90.00"
    assert rows[("-1", "90")][8] == "94.50"
    assert rows[("1", "86")][4] == "finished-before"


def test_grid_commands_and_device_slots(tmp_path):
    jobs = sweep.make_grid(str(tmp_path), ("lagvae", "infovae"), (1.0, -1.0), (86.0, 86.0), (5.0,), (1.0,),
                           (0.1, 10.0), (1.0,))
    assert [job.name for job in jobs] == ["lagvae mi=1 e1=86 e2=5", "lagvae mi=-1 e1=86 e2=5",
                                          "infovae mi=1 e1=0.1 e2=1", "infovae mi=1 e1=10 e2=1"]
    assert jobs[1].logdir == os.path.join(str(tmp_path), "lvae", "v1", "64", "-1.0-86.0-5.0")
    command = sweep.child_command(jobs[1], "/x", 7, "3", ["--seed", "2"], python="py")
    assert command == ["py", "/x/lagvae.py", "--z_dim", "64", "--mi=-1.0", "--e1=86.0", "--e2=5.0",
                       "--epochs", "7", "--device", "3", "--seed", "2"]
    assert sweep.device_slots([2, 0], cpu_slots=4) == ["2", "0"]
    assert sweep.device_slots([], cpu_slots=3) == ["cpu"] * 3
    assert sweep.default_cpu_slots(2) == 1 and sweep.default_cpu_slots(16) == 8
    default = sweep.make_grid(str(tmp_path), ("lagvae", "infovae"), sweep.DEFAULT_LAGVAE_MI, sweep.DEFAULT_LAGVAE_E1,
                              sweep.DEFAULT_LAGVAE_E2, sweep.DEFAULT_INFOVAE_MI, sweep.DEFAULT_INFOVAE_LAMBDA1,
                              sweep.DEFAULT_INFOVAE_LAMBDA2)
    assert len(default) == 2 * 14 + 2 * 7 * 3


def test_bad_grid_value_is_rejected_before_any_child(tmp_path, fake_scripts):
    result = invoke(str(tmp_path), fake_scripts, "--e1", "86,abc")
    assert result.exit_code == 2 and "not a comma-separated list" in result.output
    result = CliRunner().invoke(sweep_command.main, ["--logs", str(tmp_path), "--script-dir", str(tmp_path)])
    assert result.exit_code == 2 and "lagvae.py is missing" in result.output
