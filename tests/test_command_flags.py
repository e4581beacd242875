"""Bad input caught before work is spent, and TF32 off, in every command and benchmark (examples/*.py,
bench/*.py), through the real click commands: non-finite float flags, a GPU index the machine does not
have, a wrong --inception-graph file; one `error:` line, nothing written."""
import glob
import importlib.util
import os

import click
import pytest
from click.testing import CliRunner

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMMAND_FILES = sorted(glob.glob(os.path.join(REPO, "examples", "*.py")) + glob.glob(os.path.join(REPO, "bench", "*.py")))


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
    ("bench/bench_lagvae.py", ["--steps", "5", "--rounds", "1", "--no-xla"]),
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
        result = CliRunner().invoke(module.main, args + (["--device", "cpu"] if relative != "bench/bench_sintrovae_2d.py"
                                                          and "bench_sintrovae_images" not in relative else []))
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
    (spec 2.3). --help and docs/sintrovae.md (the commands' reference, linked from the README) say the same."""
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
