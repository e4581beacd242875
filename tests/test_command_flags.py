"""Bad input caught before work is spent, and TF32 off, in every command and benchmark (examples/*.py,
bench/*.py), through the real click commands: non-finite float flags, a GPU index the machine does not
have, a wrong --inception-graph file; one `error:` line, nothing written."""
import glob
import importlib.util
import os

import click
import pytest
from click.testing import CliRunner

from test_legacy_commands import checkpoint_tensors

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND_FILES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py"))
                       + glob.glob(os.path.join(REPO, "bench", "*.py")))


def load(path):
    """The module of a command file (a fresh copy, so that monkeypatching it touches nothing else)."""
    name = "command_" + os.path.splitext(os.path.basename(path))[0]
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def command_path(relative):
    return os.path.join(REPO, relative)


class WorkStarted(Exception):
    """Raised by the stand-ins of the functions that start a command's work."""


def stop_work(*args, **kwargs):
    raise WorkStarted()


@pytest.fixture
def folders(tmp_path, monkeypatch):
    """EXP_LOG_PATH, DATA_PREFIX (empty) and the working folder, all empty; the device and data-loading entry
    points replaced by stand-ins that raise, so that a flag that slips through fails at once."""
    logs, data, cwd = tmp_path / "logs", tmp_path / "data", tmp_path / "cwd"
    for folder in (logs, data, cwd):
        folder.mkdir()
    monkeypatch.chdir(cwd)
    monkeypatch.setenv("EXP_LOG_PATH", str(logs))
    monkeypatch.setenv("DATA_PREFIX", str(data))
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", ""))  # restored afterwards
    return tmp_path


def assert_one_line_error(result, *fragments):
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    for fragment in fragments:
        assert fragment in lines[0]


def nothing_written(root):
    return sorted(os.path.relpath(os.path.join(folder, name), root) for folder, _, names in os.walk(root)
                  for name in names)


def float_flags():
    """(command file, flag) for every float-valued flag of every command and benchmark."""
    found = []
    for path in COMMAND_FILES:
        module = load(path)
        command = getattr(module, "main", None)
        if not isinstance(command, click.Command):
            continue
        float_list = getattr(module, "FloatList", None)
        for param in command.params:
            if isinstance(param.type, click.types.FloatParamType) or (
                    float_list is not None and isinstance(param.type, float_list)):
                found.append((os.path.relpath(path, REPO), max(param.opts, key=len)))
    return found


FLOAT_FLAGS = float_flags()


def test_the_float_flags_are_found():
    """The flags of the issue (and the other float flags) are among those checked below."""
    for expected in (("examples/sintrovae_2d.py", "--beta-rec"), ("examples/sintrovae_2d.py", "--beta-kl"),
                     ("examples/sintrovae_2d.py", "--beta-neg"), ("examples/sintrovae_2d.py", "--r-entropy"),
                     ("examples/sintrovae_images.py", "--responsibility-weight"), ("examples/lagvae.py", "--mi"),
                     ("examples/lagvae.py", "--e1"), ("examples/infovae.py", "--e2"),
                     ("bench/bench_sintrovae_images.py", "--gpu-tflops")):   # the sweep's grids are data, not flags
        assert expected in FLOAT_FLAGS


@pytest.mark.parametrize("value", ["nan", "inf", "-inf"])
@pytest.mark.parametrize("relative, flag", FLOAT_FLAGS)
def test_every_float_flag_refuses_non_finite_values(folders, monkeypatch, relative, flag, value):
    module = load(command_path(relative))
    import utils.plumbing.devices
    for name in ("choose_device", "setup_device", "disable_tf32"):
        monkeypatch.setattr(utils.plumbing.devices, name, stop_work, raising=False)
    for name in ("bench_shape", "train_and_evaluate", "ImageRun", "evaluate_run", "run_command"):
        if hasattr(module, name):
            monkeypatch.setattr(module, name, stop_work)
    args = [flag, value] + (["--dry-run"] if relative.endswith("sweep.py") else [])
    result = CliRunner().invoke(module.main, args)
    assert_one_line_error(result, flag, "finite")
    assert nothing_written(folders) == []


DEVICE_COMMANDS = [
    ("examples/lagvae.py", []),
    ("examples/infovae.py", []),
    ("examples/sintrovae_2d.py", ["--iterations", "2", "--warmup", "1", "--mog-warmup", "0", "--num-components", "8",
                                  "--batch-size", "64", "--mc", "1", "--eval-mc", "1", "--eval-grid", "2", "--no-xla"]),
    ("examples/sintrovae_images.py", []),
    ("examples/evaluate.py", ["RUN"]),
    ("bench/bench_lagvae.py", ["--iterations", "5", "--rounds", "1", "--no-xla"]),
    ("bench/bench_sintrovae_2d.py", ["--iterations", "1", "--no-eval"]),
    ("bench/bench_sintrovae_images.py", ["--iterations", "1", "--shape", "mnist"]),
]


@pytest.mark.parametrize("relative, args", DEVICE_COMMANDS)
def test_a_gpu_the_machine_does_not_have_is_refused_before_any_work(folders, monkeypatch, relative, args):
    """--device 7 on a machine with GPUs 0 and 1: one line, no 'Using device GPU 7', nothing written."""
    import utils.plumbing.devices
    monkeypatch.setattr(utils.plumbing.devices, "installed_gpus", lambda: [0, 1])
    run = folders / "run"
    run.mkdir()
    args = [str(run) if arg == "RUN" else arg for arg in args]
    result = CliRunner().invoke(load(command_path(relative)).main, args + ["--device", "7"])
    assert_one_line_error(result, "--device 7", "no GPU 7", "GPUs: 0, 1")
    assert nothing_written(folders) == []


def test_device_setup_refuses_a_gpu_tensorflow_cannot_use(monkeypatch):
    """nvidia-smi lists GPU 7 but this TensorFlow sees no GPU (this test machine): --device 7 is refused (it
    ran on the CPU with XLA on); 'auto' says so and runs on the CPU."""
    import tensorflow as tf

    import utils.plumbing.devices as devices
    from utils.plumbing.errors import UserError
    if tf.config.list_physical_devices("GPU"):
        pytest.skip("TensorFlow sees a GPU here")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", os.environ.get("CUDA_VISIBLE_DEVICES", ""))
    monkeypatch.setattr(devices, "installed_gpus", lambda: list(range(8)))
    with pytest.raises(UserError, match="TensorFlow cannot use GPU 7"):
        devices.setup_device("7")
    messages = []
    monkeypatch.setattr(devices, "available_gpus", lambda *args, **kwargs: [3])
    assert devices.setup_device("auto", announce=messages.append) == "CPU"
    assert messages == ["Using GPU 3.", "TensorFlow cannot use GPU 3: running on the CPU."]
    assert devices.setup_device("cpu") == "CPU"


TF32_COMMANDS = [  # (command, arguments, the first function of the command's work after its set-up)
    ("examples/lagvae.py", [], "utils.data.mnist:load_mnist_arrays"),      # the data check before the run folder
    ("examples/infovae.py", [], "utils.data.mnist:load_mnist_arrays"),
    ("examples/sintrovae_2d.py", [], "module:train_and_evaluate"),
    ("examples/sintrovae_images.py", [], "utils.data.images:load_image_data"),
    ("examples/evaluate.py", ["RUN"], "module:evaluate_run"),
    ("bench/bench_lagvae.py", ["--worker", "ours"], "module:our_measurements"),    # TF32 off in each worker
    ("bench/bench_sintrovae_2d.py", [], "utils.data.toy:ToyData"),
    ("bench/bench_sintrovae_images.py", [], "module:bench_shape"),
]


@pytest.mark.parametrize("relative, args, first_work", TF32_COMMANDS)
def test_tf32_is_off_when_the_work_of_every_command_starts(folders, monkeypatch, relative, args, first_work):
    """TensorFlow's TF32 default is on (float32 matmuls in TF32 on Ampere+ GPUs); every command must have turned
    it off by the time its first TensorFlow work starts."""
    import importlib

    import tensorflow as tf
    module = load(command_path(relative))
    owner_name, attribute = first_work.split(":")
    owner = module if owner_name == "module" else importlib.import_module(owner_name)
    seen = []

    def first(*args, **kwargs):
        seen.append(tf.config.experimental.tensor_float_32_execution_enabled())
        raise WorkStarted()

    monkeypatch.setattr(owner, attribute, first)
    run = folders / "run"
    run.mkdir()
    args = [str(run) if arg == "RUN" else arg for arg in args]
    tf.config.experimental.enable_tensor_float_32_execution(True)  # TensorFlow's default
    try:
        result = CliRunner().invoke(module.main, args + ["--device", "cpu"])
    finally:
        enabled_after = tf.config.experimental.tensor_float_32_execution_enabled()
        tf.config.experimental.enable_tensor_float_32_execution(True)
    assert isinstance(result.exception, WorkStarted), (result.output, result.exception)
    assert seen == [False] and enabled_after is False


def test_a_wrong_inception_graph_is_refused_before_training(folders, monkeypatch):
    """A garbage file, and a real GraphDef without the Inception tensors, are one-line errors before the run
    starts (they were found only at evaluation, after 220 epochs)."""
    import tensorflow as tf
    module = load(command_path("examples/sintrovae_images.py"))
    monkeypatch.setattr(module, "train_and_evaluate", stop_work)  # the run itself (utils/training/images.py)
    garbage = folders / "garbage.pb"
    garbage.write_bytes(b"not a graph at all\n" * 10)
    other = folders / "other.pb"
    graph = tf.compat.v1.GraphDef()
    graph.node.add(name="x", op="Placeholder")
    other.write_bytes(graph.SerializeToString())
    before = nothing_written(folders)
    result = CliRunner().invoke(module.main, ["--inception-graph", str(garbage), "--device", "cpu"])
    assert_one_line_error(result, str(garbage), "is not a TensorFlow GraphDef", "classify_image_graph_def.pb")
    result = CliRunner().invoke(module.main, ["--inception-graph", str(other), "--device", "cpu"])
    assert_one_line_error(result, str(other), "has no tensor", "classify_image_graph_def.pb")
    assert nothing_written(folders) == before


def test_mog_warmup_default_is_one_truth_for_images_and_2d():
    """The authors' defaults: images `--mog_warmup 5` (images/ablation_train_vae.py, train_vae.py), 2D 100
    (2D/train_scripts, the authors' default). --help and docs/sintrovae.md (the commands' reference, linked from the README) say the same."""
    import re
    with open(os.path.join(REPO, "docs", "sintrovae.md")) as stream:
        reference = stream.read()
    images_section = reference[reference.index("\n## Images (`examples/sintrovae_images.py`)"):]
    images_section = images_section[:(images_section + "\n## ").index("\n## ", 1)]
    two_d_section = reference[reference.index("\n## 2D benchmark (`examples/sintrovae_2d.py`)"):]
    two_d_section = two_d_section[:two_d_section.index("\n## ", 1)]
    for relative, section, authors in (("examples/sintrovae_images.py", images_section, 5),
                                       ("examples/sintrovae_2d.py", two_d_section, 100)):
        command = load(command_path(relative)).main
        (default,) = [param.default for param in command.params if param.name == "mog_warmup"]
        in_readme = {int(number) for number in re.findall(r"`--mog-warmup` \((\d+)", section)}
        assert default == authors and in_readme == {authors}, (relative, default, in_readme)


# ------------------------------------------------------------------------------- the flags every command shares
TRAINING_COMMANDS = ["examples/lagvae.py", "examples/infovae.py", "examples/sintrovae_2d.py",
                     "examples/sintrovae_images.py"]
BENCHMARKS = ["bench/bench_lagvae.py", "bench/bench_sintrovae_2d.py", "bench/bench_sintrovae_images.py"]
LENGTH_FLAG = {"examples/lagvae.py": "--epochs", "examples/infovae.py": "--epochs",
               "examples/sintrovae_images.py": "--epochs", "examples/sintrovae_2d.py": "--iterations",
               "bench/bench_lagvae.py": "--iterations", "bench/bench_sintrovae_2d.py": "--iterations",
               "bench/bench_sintrovae_images.py": "--iterations"}
# words of each flag's meaning that its help says on every command (the README table's "meaning")
MEANING_WORDS = {"--seed": "random seed", "--device": "a GPU index", "--xla": "with XLA",
                 "--log-every": "training steps between log rows",
                 "--checkpoint-every": "training steps between checkpoints",
                 "--max-steps": "total training steps of the run", "--epochs": "passes over the training set",
                 "--iterations": "training steps"}
# the types, written out: one type per flag everywhere
FLAG_TYPES = {"--seed": ("IntRange", 0, 2 ** 31 - 1), "--log-every": ("IntRange", 1, None),
              "--checkpoint-every": ("IntRange", 0, None), "--max-steps": ("IntRange", 1, None),
              "--epochs": ("IntRange", 1, None), "--iterations": ("IntRange", 1, None),
              "--device": ("String", None, None), "--xla": ("Bool", None, None)}
# each command keeps its --xla default of before (None: XLA on a GPU, not on the CPU; bench_lagvae: both)
XLA_DEFAULTS = {"examples/lagvae.py": None, "examples/infovae.py": None, "examples/sintrovae_2d.py": True,
                "examples/sintrovae_images.py": False, "bench/bench_lagvae.py": None,
                "bench/bench_sintrovae_2d.py": True, "bench/bench_sintrovae_images.py": False}


def visible_options(relative):
    command = load(command_path(relative)).main
    return {param.opts[0]: param for param in command.params if isinstance(param, click.Option) and not param.hidden}


def flag_type(param):
    info = param.to_info_dict()["type"]
    return info["param_type"], info.get("min"), info.get("max")


@pytest.mark.parametrize("relative", TRAINING_COMMANDS + BENCHMARKS)
def test_every_command_has_the_shared_flags_with_one_name_type_and_meaning(relative):
    options = visible_options(relative)
    expected = ["--seed", "--device", "--xla", "--log-every", LENGTH_FLAG[relative]]
    if relative in TRAINING_COMMANDS:
        expected += ["--checkpoint-every", "--max-steps"]
    else:  # a benchmark writes no checkpoint and cannot resume: no such flags (the README table says so)
        assert "--checkpoint-every" not in options and "--max-steps" not in options
    for flag in expected:
        assert flag in options, (relative, flag)
        param = options[flag]
        assert MEANING_WORDS[flag] in param.help, (relative, flag, param.help)
        assert flag_type(param) == FLAG_TYPES[flag], (relative, flag)
    assert options["--xla"].secondary_opts == ["--no-xla"] and options["--xla"].default is XLA_DEFAULTS[relative]
    assert options["--device"].default == "auto" and options["--seed"].default == 0
    if "--max-steps" in options:
        assert options["--max-steps"].default is None   # no limit unless asked for


def test_the_training_commands_keep_their_defaults():
    """What a run does without flags did not change with the shared definitions."""
    defaults = {relative: {flag: param.default for flag, param in visible_options(relative).items()}
                for relative in TRAINING_COMMANDS}
    for relative in ("examples/lagvae.py", "examples/infovae.py"):   # checkpoints after every epoch only, as before
        assert {flag: defaults[relative][flag] for flag in ("--epochs", "--log-every", "--checkpoint-every")} == {
            "--epochs": 5000, "--log-every": 1000, "--checkpoint-every": 0}
    assert [defaults["examples/sintrovae_2d.py"][flag] for flag in ("--iterations", "--log-every",
                                                                   "--checkpoint-every")] == [30000, 100, 1000]
    assert [defaults["examples/sintrovae_images.py"][flag] for flag in ("--epochs", "--log-every",
                                                                       "--checkpoint-every")] == [220, None, 100]


OLD_SPELLINGS = [  # (command, old flags, the parameter they set, its value): old scripts keep working
    ("examples/sintrovae_2d.py", ["--log-interval", "5"], "log_every", 5),
    ("examples/sintrovae_2d.py", ["--checkpoint-interval", "7"], "checkpoint_every", 7),
    ("examples/sintrovae_2d.py", ["--no-xla"], "xla", False),
    ("examples/sintrovae_2d.py", ["--stop-after", "9"], "stop_after", 9),
    ("examples/sintrovae_images.py", ["--jit-compile"], "xla", True),
    ("examples/sintrovae_images.py", ["--no-jit-compile"], "xla", False),
    ("examples/sintrovae_images.py", ["--stop-after", "2"], "stop_after", 2),
    ("bench/bench_lagvae.py", ["--steps", "7"], "iterations", 7),
    ("bench/bench_sintrovae_2d.py", ["--no-xla"], "xla", False),
    ("bench/bench_sintrovae_images.py", ["--xla"], "xla", True),
    # the new spelling wins over the old one, in either order
    ("examples/sintrovae_2d.py", ["--log-interval", "5", "--log-every", "3"], "log_every", 3),
    ("examples/sintrovae_2d.py", ["--log-every", "3", "--log-interval", "5"], "log_every", 3),
    ("examples/sintrovae_images.py", ["--no-xla", "--jit-compile"], "xla", False),
    # without either, the default
    ("examples/sintrovae_2d.py", [], "log_every", 100),
    ("examples/sintrovae_images.py", [], "xla", False),
]


@pytest.mark.parametrize("relative, args, name, value", OLD_SPELLINGS)
def test_old_spellings_keep_their_meaning(relative, args, name, value):
    command = load(command_path(relative)).main
    assert command.make_context("command", list(args)).params[name] == value


@pytest.mark.parametrize("relative", TRAINING_COMMANDS + BENCHMARKS)
def test_old_spellings_are_hidden_from_help(relative):
    output = CliRunner().invoke(load(command_path(relative)).main, ["--help"]).output
    assert "--max-steps" in output or relative in BENCHMARKS
    for old in ("--log-interval", "--checkpoint-interval", "--stop-after", "--jit-compile", "--steps"):
        assert old not in output, (relative, old)


def test_the_readme_lists_the_shared_flags_once_after_the_commands():
    with open(os.path.join(REPO, "README.md")) as stream:
        readme = stream.read()
    sections = [line for line in readme.splitlines() if line.startswith("## ")]
    assert sections[sections.index("## Commands") + 1] == "## Flags shared by every command"
    section = readme[readme.index("## Flags shared by every command"):]
    section = section[:section.index("\n## ")]
    rows = [line for line in section.splitlines() if line.startswith("| `--")]
    flags = [row.split("`")[1] for row in rows]
    assert sorted(flags) == sorted(["--seed", "--device", "--xla/--no-xla", "--log-every", "--checkpoint-every",
                                    "--max-steps", "--epochs", "--iterations"])


def assert_same_tensors(first, second):
    import numpy as np
    assert set(first) == set(second)
    for name in first:
        np.testing.assert_array_equal(first[name], second[name], err_msg=name)


@pytest.mark.slow
def test_2d_max_steps_counts_total_iterations_and_the_plain_rerun_equals_an_uninterrupted_run(tmp_path):
    """--max-steps 30 stops at iteration 30 with a checkpoint (and the old --log-interval 5 logs every 5);
    the same --max-steps again does nothing; the command without it ends bit-identical to one run."""
    import csv
    import json
    from test_sintrovae_2d_command import FLAGS, RUN
    main = load(command_path("examples/sintrovae_2d.py")).main
    index = FLAGS.index("--log-every")
    flags = FLAGS[:index] + FLAGS[index + 2:]

    def invoke(root, *extra):
        result = CliRunner().invoke(main, flags + list(extra), env={"EXP_LOG_PATH": str(root)})
        assert result.exit_code == 0, (result.output, result.exception)
        return result.output

    run_dir = tmp_path / "a" / RUN
    output = invoke(tmp_path / "a", "--max-steps", "30", "--log-interval", "5")
    assert "Stopped at iteration 30 of 90 (--max-steps 30); checkpoint saved in %s." % (run_dir / "ckpt") in output
    assert "The same command without --max-steps continues" in output and not (run_dir / "eval.json").exists()
    rows = [int(float(row["iteration"])) for row in csv.DictReader(open(run_dir / "progress.csv"))]
    assert rows == [5, 10, 15, 20, 25, 30]
    checkpoints = sorted(os.listdir(run_dir / "ckpt"))
    assert int(checkpoint_tensors(run_dir / "ckpt")["iteration/.ATTRIBUTES/VARIABLE_VALUE"]) == 30

    output = invoke(tmp_path / "a", "--max-steps", "30")          # reached already: nothing more
    assert "Stopped at iteration 30 of 90 (--max-steps 30)" in output and "Resuming" not in output
    assert sorted(os.listdir(run_dir / "ckpt")) == checkpoints

    output = invoke(tmp_path / "a")
    assert "Resuming %s at iteration 30 of 90 (resumed from" % run_dir in output
    invoke(tmp_path / "b")
    assert_same_tensors(checkpoint_tensors(run_dir / "ckpt"), checkpoint_tensors(tmp_path / "b" / RUN / "ckpt"))
    resumed, uninterrupted = (json.loads((root / RUN / "eval.json").read_text()) for root in (tmp_path / "a",
                                                                                               tmp_path / "b"))
    for record in (resumed, uninterrupted):
        record.pop("eval_seconds")
    assert resumed == uninterrupted


@pytest.mark.slow
def test_images_max_steps_stops_inside_an_epoch_and_the_plain_rerun_equals_an_uninterrupted_run(
        tmp_path, shared_data_prefix):
    """2 epochs of 2 steps: --max-steps 3 stops in the middle of epoch 2/2; --log-every 1 logs each step (a
    line, TensorBoard scalars at step = iteration in tb/steps/) besides the epoch rows; the plain rerun
    resumes there and ends with the weights and eval.json of an uninterrupted run."""
    import csv
    import json
    import shutil
    from test_legacy_commands import tensorboard_scalars
    from test_sintrovae_images_command import RESUME_FLAGS, RESUME_RUN, _run
    straight, logs = tmp_path / "straight", tmp_path / "stopped"
    done = _run(RESUME_FLAGS, shared_data_prefix, str(straight))
    assert done.returncode == 0, done.stderr[-3000:]
    classifiers = os.path.join("sintrovae_images", "feature_classifiers")   # the same FD-LeNet network for both
    shutil.copytree(straight / classifiers, logs / classifiers)
    run_dir = logs / RESUME_RUN

    first = _run(RESUME_FLAGS + ["--max-steps", "3", "--log-every", "1"], shared_data_prefix, str(logs))
    assert first.returncode == 0, first.stderr[-3000:]
    assert "Stopped at iteration 3 of 4, epoch 2/2 (--max-steps 3)" in first.stdout
    for step, epoch in ((1, 1), (2, 1), (3, 2)):
        assert "iteration %d (epoch %d/2): " % (step, epoch) in first.stdout
    assert "iteration 4 (" not in first.stdout and not (run_dir / "eval.json").exists()
    assert list(checkpoint_tensors(run_dir / "ckpt")["progress/.ATTRIBUTES/VARIABLE_VALUE"]) == [1, 1]
    assert [row["epoch"] for row in csv.DictReader(open(run_dir / "progress.csv"))] == ["0"]
    checkpoints = sorted(os.listdir(run_dir / "ckpt"))

    again = _run(RESUME_FLAGS + ["--max-steps", "3"], shared_data_prefix, str(logs))   # reached: nothing more
    assert again.returncode == 0 and "Stopped at iteration 3 of 4, epoch 2/2 (--max-steps 3)" in again.stdout
    assert "Resuming" not in again.stdout and sorted(os.listdir(run_dir / "ckpt")) == checkpoints

    second = _run(RESUME_FLAGS + ["--log-every", "1"], shared_data_prefix, str(logs))
    assert second.returncode == 0, second.stderr[-3000:]
    assert "Resuming %s at iteration 3 of 4, epoch 2/2 (resumed from" % run_dir in second.stdout
    assert "iteration 4 (epoch 2/2): " in second.stdout and "iteration 3 (" not in second.stdout
    assert_same_tensors(checkpoint_tensors(run_dir / "ckpt"), checkpoint_tensors(straight / RESUME_RUN / "ckpt"))
    resumed, uninterrupted = (json.loads((root / RESUME_RUN / "eval.json").read_text()) for root in (logs, straight))
    for record in (resumed, uninterrupted):
        record.pop("train_seconds_last_run")
    assert resumed == uninterrupted
    assert [row["epoch"] for row in csv.DictReader(open(run_dir / "progress.csv"))] == ["0", "1"]
    steps = tensorboard_scalars(str(run_dir / "tb" / "steps"))
    assert [step for step, _ in steps["train/rec_vae"]] == [1, 2]           # warm-up epoch
    assert [step for step, _ in steps["train/lossE"]] == [3, 4]             # adversarial epoch, across the resume
    assert not (straight / RESUME_RUN / "tb" / "steps").exists()             # no --log-every: the epoch rows only
