"""Sweeps on a local Ray cluster started by the test (2 CPUs, 2 logical GPUs) with fake child commands:
finished runs skipped, a failing child gives exit 1 and a summary, a killed sweep resumes without redoing
finished trials, concurrent trials get distinct GPUs; grid sizes; HParams read back."""
import glob
import os
import pickle
import signal
import subprocess
import sys
import textwrap
import time

import numpy as np
import pytest
from click.testing import CliRunner

import examples.sweep as sweep_command
from utils.sweeps import experiments
from utils.sweeps import engine as sweep
from utils.sweeps.hparams import read_hparams
from utils.legacy.runs import run_directory

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))

# A stand-in for examples/lagvae.py / infovae.py: resumes from <logdir>/epochs_done; crashes at epoch 2 when
# its e1 is listed in $EXP_LOG_PATH/crash_e1; sleeps $EXP_LOG_PATH/sleep seconds per epoch; records its pid,
# its --device and CUDA_VISIBLE_DEVICES with start / end times; writes eval.pkl (train -ELBO = e1) at the end.
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
    root = os.environ["EXP_LOG_PATH"]
    method = os.path.basename(sys.argv[0])[:-3]
    folder = {"lagvae": "lvae/v1", "infovae": "infovae/v1"}[method]
    logdir = os.path.join(root, folder, str(args.z_dim), "{}-{}-{}".format(args.mi, args.e1, args.e2))
    os.makedirs(logdir, exist_ok=True)
    def setting(name, default):
        path = os.path.join(root, name)
        return open(path).read().split() if os.path.exists(path) else default
    os.makedirs(os.path.join(root, "pids"), exist_ok=True)
    open(os.path.join(root, "pids", str(os.getpid())), "w").close()
    if os.path.exists(os.path.join(root, "grandchild")):      # a process of the child's own (same group)
        import subprocess
        helper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"])
        open(os.path.join(root, "pids", str(helper.pid)), "w").close()
    open(os.path.join(logdir, "data_prefix"), "w").write(os.environ.get("DATA_PREFIX", ""))
    started = time.time()
    state = os.path.join(logdir, "epochs_done")
    done = int(open(state).read()) if os.path.exists(state) else 0
    print("start at epoch %d device %s tag %s" % (done, args.device, args.tag))
    for epoch in range(done, args.epochs):
        if "%r" % args.e1 in setting("crash_e1", []) and epoch == 2:
            print("crashing", file=sys.stderr)
            sys.exit(3)
        time.sleep(float(setting("sleep", ["0.05"])[0]))
        open(state, "w").write(str(epoch + 1))
    with open(os.path.join(root, "devices"), "a") as log:
        log.write("%s %s %.3f %.3f\\n" % (args.device, os.environ.get("CUDA_VISIBLE_DEVICES"), started,
                                          time.time()))
    with open(os.path.join(logdir, "eval.pkl"), "wb") as f:
        pickle.dump({"train_nll": np.float32(args.e1 - 20), "train_elbo": np.float32(20),
                     "test_nll": np.float32(args.e1 - 16), "test_elbo": np.float32(20.5)}, f)
''')


@pytest.fixture(scope="module")
def ray_cluster():
    """One local Ray for the module: 2 CPUs, 2 logical GPUs, no dashboard, a short temporary folder."""
    import ray
    temp = "/tmp/rt%d" % os.getpid()
    # a command run in this process with --device cpu hides the GPUs (CUDA_VISIBLE_DEVICES=-1): logical GPUs
    # need them visible
    hidden = os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    context = ray.init(num_cpus=2, num_gpus=2, include_dashboard=False, _temp_dir=temp, log_to_driver=False,
                       configure_logging=False)
    yield context.address_info["gcs_address"]
    ray.shutdown()
    if hidden is not None:
        os.environ["CUDA_VISIBLE_DEVICES"] = hidden


@pytest.fixture
def fake_scripts(tmp_path):
    folder = tmp_path / "scripts"
    folder.mkdir()
    for name in ("lagvae.py", "infovae.py"):
        (folder / name).write_text(FAKE_CHILD)
    return str(folder)


def run_sweep(root, scripts, *args):
    return CliRunner().invoke(sweep_command.main, ["pareto", "--preset", "cpu-small", "--epochs", "5", "--logs", root,
                                                   "--script-dir", scripts, *args])


def attempts(root, method, mi, e1):
    path = os.path.join(run_directory(root, method, 64, mi, e1, 5.0 if method == "lagvae" else 1.0),
                        sweep.OUTPUT_FILE)
    return open(path).read().count("# 20")


def test_sweep_failure_summary_skip_resume_gpus_and_hparams(tmp_path, fake_scripts, ray_cluster):
    root = str(tmp_path / "runs")
    os.makedirs(root)
    open(os.path.join(root, "crash_e1"), "w").write("153.0")
    open(os.path.join(root, "sleep"), "w").write("0.3")
    # cpu-small: LagVAE mi +-1 x e1 {123, 153}, InfoVAE (1, 10, 1), (-1, 1, 1); the e1 = 153 runs crash
    result = run_sweep(root, fake_scripts, "--", "--tag", "x")
    assert result.exit_code == 1, result.output
    assert "pareto cpu-small, stage runs: 6 trials, 0 finished before, 6 to run" in result.output
    assert "2 trial(s) failed" in result.output
    crashed = run_directory(root, "lagvae", 64, -1.0, 153.0, 5.0)
    assert not os.path.exists(os.path.join(crashed, "eval.pkl"))
    assert open(os.path.join(crashed, "epochs_done")).read() == "2"
    output = open(os.path.join(crashed, sweep.OUTPUT_FILE)).read()
    assert "tag x" in output and "crashing" in output and "--e1=153.0" in output
    summary = [line.split() for line in result.output.splitlines() if line.startswith("lvae/v1/64/")]
    rows = {row[0]: row for row in summary}
    assert rows["lvae/v1/64/-1.0-153.0-5.0"][1:4] == ["failed", "(exit", "3)"]
    assert rows["lvae/v1/64/1.0-123.0-5.0"][1] == "done"
    # concurrent trials held distinct GPUs: --device equals CUDA_VISIBLE_DEVICES, overlapping runs differ
    log = [line.split() for line in open(os.path.join(root, "devices")).read().splitlines()]
    assert len(log) == 4 and all(device == visible and device in ("0", "1") for device, visible, _, _ in log)
    overlaps = [(a, b) for i, a in enumerate(log) for b in log[i + 1:]
                if float(a[2]) < float(b[3]) and float(b[2]) < float(a[3])]
    assert overlaps and all(a[0] != b[0] for a, b in overlaps)

    # Rerun: the 4 finished runs are skipped, the two crashed ones resume at epoch 2.
    os.remove(os.path.join(root, "crash_e1"))
    result = run_sweep(root, fake_scripts)
    assert result.exit_code == 0, result.output
    assert "6 trials, 4 finished before, 2 to run" in result.output
    assert attempts(root, "lagvae", 1.0, 123.0) == 1 and attempts(root, "lagvae", -1.0, 153.0) == 2
    assert "start at epoch 2" in open(os.path.join(crashed, sweep.OUTPUT_FILE)).read()
    with open(os.path.join(crashed, "eval.pkl"), "rb") as stream:
        assert pickle.load(stream)["train_nll"] == np.float32(133.0)
    assert os.path.exists(os.path.join(root, "tables", "pareto-cpu-small.png"))
    # HParams of a run, read back with TensorBoard's reader and the HParams plugin's parser
    hparams, metrics = read_hparams(crashed)
    assert hparams == {"method": "lagvae", "z_dim": 64.0, "mi": -1.0, "e1": 153.0, "e2": 5.0, "epochs": 5.0}
    assert metrics["train_neg_elbo"] == pytest.approx(153.0) and metrics["test_elbo"] == pytest.approx(20.5)
    # A third run has nothing to do
    result = run_sweep(root, fake_scripts)
    assert result.exit_code == 0 and "6 trials, 6 finished before, 0 to run" in result.output


def _alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    with open("/proc/%d/stat" % pid) as stream:
        return stream.read().split()[2] != "Z"


def test_killed_sweep_stops_children_and_rerun_completes(tmp_path, fake_scripts, ray_cluster):
    root = str(tmp_path / "runs")
    os.makedirs(root)
    open(os.path.join(root, "sleep"), "w").write("1.0")
    command = [sys.executable, os.path.join(REPO, "examples", "sweep.py"), "pareto", "--preset", "cpu-small",
               "--epochs", "3", "--logs", root, "--script-dir", fake_scripts, "--address", ray_cluster]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path))
    deadline = time.time() + 90
    while time.time() < deadline and len(glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl"))) < 2:
        time.sleep(0.2)
    finished = sorted(glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl")))
    assert len(finished) >= 2
    driver.send_signal(signal.SIGKILL)
    driver.wait()
    # the children of the killed sweep are stopped (process group / parent-death signal)
    pids = [int(os.path.basename(p)) for p in glob.glob(os.path.join(root, "pids", "*"))]
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    assert len(glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl"))) < 6
    # (run outside the repository: Ray's workers get the task's code from the sweep, not from their path)
    result = subprocess.run(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path), text=True,
                            timeout=120, env=dict(os.environ, DATA_PREFIX="/forwarded/data"))
    assert result.returncode == 0, result.stdout
    assert "6 trials, %d finished before" % len(finished) in result.stdout or \
        "6 trials, %d finished before" % (len(finished) + 1) in result.stdout
    assert len(glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl"))) == 6
    rerun = [p for p in glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl")) if p not in finished]
    # the sweep's DATA_PREFIX reaches the children (not the one of the process that started Ray)
    assert open(os.path.join(os.path.dirname(rerun[-1]), "data_prefix")).read() == "/forwarded/data"
    for path in finished:     # finished runs were not started again
        assert open(os.path.join(os.path.dirname(path), sweep.OUTPUT_FILE)).read().count("# 20") == 1


def test_interrupted_sweep_stops_each_childs_process_group(tmp_path, fake_scripts, ray_cluster):
    """Ctrl-C (SIGINT) on the sweep cancels its running trials: every process of each child's group ends."""
    root = str(tmp_path / "runs")
    os.makedirs(root)
    open(os.path.join(root, "sleep"), "w").write("30")
    open(os.path.join(root, "grandchild"), "w").close()
    command = [sys.executable, os.path.join(REPO, "examples", "sweep.py"), "pareto", "--preset", "cpu-small",
               "--epochs", "3", "--logs", root, "--script-dir", fake_scripts, "--address", ray_cluster]
    driver = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=str(tmp_path), text=True)
    deadline = time.time() + 60
    while time.time() < deadline and len(glob.glob(os.path.join(root, "pids", "*"))) < 4:   # 2 children + 2 helpers
        time.sleep(0.2)
    pids = [int(os.path.basename(p)) for p in glob.glob(os.path.join(root, "pids", "*"))]
    assert len(pids) == 4 and all(_alive(pid) for pid in pids)
    interrupted = time.time()
    driver.send_signal(signal.SIGINT)
    output, _ = driver.communicate(timeout=90)
    assert time.time() - interrupted < 20    # the cancelled tasks return at once (not after Ray's job clean-up)
    assert driver.returncode == 130, output
    assert "interrupted: the running trials were stopped" in output
    deadline = time.time() + 30
    while time.time() < deadline and any(_alive(pid) for pid in pids):
        time.sleep(0.2)
    assert not any(_alive(pid) for pid in pids)
    assert not glob.glob(os.path.join(root, "*", "v1", "64", "*", "eval.pkl"))


def test_grid_sizes_match_the_papers(tmp_path, monkeypatch):
    pareto = experiments.pareto_trials("full")
    assert len(pareto) == 70 and sum(t.script == "lagvae" for t in pareto) == 28
    assert pareto[0].command("py", "/x", "gpu") == ["py", "/x/lagvae.py", "--z_dim", "64", "--mi=1.0", "--e1=80.0",
                                                    "--e2=5.0", "--epochs", "5000", "--device", "gpu"]
    assert pareto[0].run_dir == os.path.join("lvae", "v1", "64", "1.0-80.0-5.0")
    # Table 1: grid search 4 data sets x (5 S-IntroVAE configs x 210 + 3 VAE configs x 81), then 8 x 5 seeds
    grid = experiments.toy2d_grid_search("full")
    assert len(grid) == 4 * (5 * 210 + 3 * 81) == 5172
    assert len({t.run_dir for t in grid}) == len(grid)
    monkeypatch.setattr(experiments, "select_betas", lambda root, trials: {
        (t.hparams["dataset"], t.hparams["model"]): (0.2, 0.3, 0.9) for t in trials})
    seeds, missing = experiments.toy2d_seeds(str(tmp_path), "full")
    assert len(seeds) == 4 * 8 * 5 == 160 and not missing
    # images: 3 data sets x (N(0,I) + K {10,100} x LC x IP x r {0,1,10,100}) x 3 seeds
    images = experiments.images_trials("full")
    assert len(images) == 3 * (1 + 2 * 2 * 2 * 4) * 3 == 297 and len({t.run_dir for t in images}) == 297
    # a hand-started `sintrovae_2d.py --dataset 8Gaussian --prior imposed --seed 0` is the preset's seed-0 trial
    gauss = experiments.stages("toy2d-table1", "gauss-8gaussian")
    assert len(gauss) == 1
    trials, _ = gauss[0][1](str(tmp_path))
    assert trials[0].run_dir == os.path.join("sintrovae2d", "8Gaussian", "sintrovae_gauss_b0.2-0.3-0.9_it30000_vae2000",
                                             "seed0")
    assert [t.hparams["seed"] for t in trials] == [0, 1, 2, 3, 4]


def test_beta_selection_by_lowest_sample_kl(tmp_path):
    from utils.plumbing.atomic import write_json_atomic
    root = str(tmp_path)
    grid = [t for t in experiments.toy2d_grid_search("cpu-small") if t.hparams["model"] == "S-IntroVAE N(0,I)"]
    assert [t.hparams["beta_kl"] for t in grid] == [0.3, 0.5]
    write_json_atomic(os.path.join(root, grid[0].run_dir, "eval.json"), {"kl": 5.0, "jsd": 1.0})
    write_json_atomic(os.path.join(root, grid[1].run_dir, "eval.json"), {"kl": 2.5, "jsd": 9.0})
    selected = experiments.select_betas(root, grid)
    assert selected == {("8Gaussian", "S-IntroVAE N(0,I)"): (0.2, 0.5, 1.5)}
    seeds, missing = experiments.toy2d_seeds(root, "cpu-small")
    assert len(seeds) == 2 and len(missing) == 7
    assert seeds[0].run_dir == grid[1].run_dir     # seed 0 of the selection is the grid-search run itself


def test_bad_input_is_refused_before_any_work(tmp_path):
    result = CliRunner().invoke(sweep_command.main, ["pareto", "--preset", "huge", "--logs", str(tmp_path)])
    assert result.exit_code == 2 and "error: pareto has no preset 'huge'" in result.output
    result = CliRunner().invoke(sweep_command.main, ["toy2d-table1", "--epochs", "3", "--logs", str(tmp_path)])
    assert result.exit_code == 2 and "--epochs applies to pareto only" in result.output
    result = CliRunner().invoke(sweep_command.main, ["pareto", "--logs", str(tmp_path), "--script-dir",
                                                     str(tmp_path)])
    assert result.exit_code == 2 and "lagvae.py is missing" in result.output
    assert os.listdir(str(tmp_path)) == []


@pytest.mark.parametrize("experiment", sorted(experiments.EXPERIMENTS))
def test_every_preset_command_is_accepted_by_the_real_command(experiment, tmp_path, monkeypatch):
    """Each distinct flag set of every preset parses with the real click command (nothing runs)."""
    import importlib
    monkeypatch.setattr(experiments, "select_betas", lambda root, trials: {
        (t.hparams["dataset"], t.hparams["model"]): (0.2, 0.3, 0.9) for t in trials})
    for preset in experiments.EXPERIMENTS[experiment]:
        trials = [t for _, build in experiments.stages(experiment, preset) for t in build(str(tmp_path))[0]]
        seen = set()
        for trial in trials:
            pattern = tuple(a for a in trial.args if a.startswith("--"))
            if pattern in seen:
                continue
            seen.add(pattern)
            module = importlib.import_module("examples." + trial.script)
            command = trial.command("python", "/x", "cpu")[2:]
            context = module.main.make_context(trial.script, command)
            assert context.params["device"] == "cpu"
