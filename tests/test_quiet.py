"""TensorFlow's start-up noise (utils/plumbing/quiet.py): the six lines `import tensorflow` prints on this
machine are hidden in every command, while other output written to stderr during the import is kept."""
import os
import subprocess
import sys

import pytest

from utils.plumbing.quiet import filter_start_up_noise, is_start_up_noise

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# What `import tensorflow` 2.21 printed on this machine (twice: two shared libraries), TF_CPP_MIN_LOG_LEVEL=3 or not
BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR\n"
ONEDNN = ("I0000 00:00:1796526291.578467   30251 port.cc:153] oneDNN custom operations are on. You may see slightly "
          "different numerical results due to floating-point round-off errors from different computation orders. "
          "To turn them off, set the environment variable `TF_ENABLE_ONEDNN_OPTS=0`.\n")
CUDA = ("I0000 00:00:1796526291.578818   30251 cudart_stub.cc:31] Could not find cuda drivers on your machine, GPU "
        "will not be used.\n")
# On GPU machines (the usual reports of TensorFlow 2.1x with CUDA wheels)
CUDNN = ("E0000 00:00:1730000000.123456   1234 cuda_dnn.cc:8310] Unable to register cuDNN factory: Attempting to "
         "register factory for plugin cuDNN when one has already been registered\n")
START_UP_MARKERS = ("absl::InitializeLog", "oneDNN custom operations", "cudart_stub", "Unable to register cu")


def start_up_lines(stderr):
    """Lines of a process's stderr that TensorFlow prints while it loads."""
    return [line for line in stderr.splitlines() if any(marker in line for marker in START_UP_MARKERS)]


def test_the_start_up_lines_are_noise_and_everything_else_is_kept():
    for line in (BANNER, ONEDNN, CUDA, CUDNN, "I1105 14:02:11.000001  77 gpu_device.cc:2022] Created device\n"):
        assert is_start_up_noise(line), line
    kept = ["W0000 00:00:1796526291.578818   30251 some_op.cc:31] a real warning\n",
            "E0000 00:00:1796526291.578818   30251 loader.cc:12] libcudnn.so.9: cannot open shared object file\n",
            "Traceback (most recent call last):\n", "ImportError: numpy.core.multiarray failed to import\n",
            "error: DATA_PREFIX is not set\n", "I0000 is not an absl line\n", "\n"]
    for line in kept:
        assert not is_start_up_noise(line), line
    text = BANNER + ONEDNN + kept[0] + CUDA + BANNER + kept[1] + CUDNN + kept[2] + kept[3]
    assert filter_start_up_noise(text) == "".join(kept[:4])


CHILD = """
import os, sys
sys.path.insert(0, %r)
from utils.plumbing.quiet import StderrFiltered
print("before", file=sys.stderr)
try:
    with StderrFiltered():
        os.write(2, %r.encode())           # what a shared library writes to descriptor 2
        print("a python warning", file=sys.stderr)
        raise RuntimeError("broken import")
except RuntimeError:
    pass
print("after", file=sys.stderr)
""" % (REPO, BANNER + ONEDNN + "W0101 10:00:00.000001   1 x.cc:1] kept\n" + CUDA)


def test_stderr_written_during_the_filtered_block_comes_back_without_the_noise_even_on_an_exception():
    done = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "before\nW0101 10:00:00.000001   1 x.cc:1] kept\na python warning\nafter\n"


def _python(code, env_extra=None):
    env = {key: value for key, value in os.environ.items() if key != "TF_CPP_MIN_LOG_LEVEL"}
    env.update(env_extra or {})
    return subprocess.run([sys.executable, "-c", code], cwd=REPO, env=env, capture_output=True, text=True,
                          timeout=300)


@pytest.mark.slow
def test_import_tensorflow_prints_nothing_after_the_call_and_only_known_noise_without_it():
    quiet = _python("import sys; from utils.plumbing.quiet import hide_tensorflow_start_up_noise as h; h(); "
                    "import keras, tensorflow as tf; print(tf.constant(2.0).numpy(), tf.__loader__.__class__.__name__)"
                    "; import os; print(os.environ['TF_CPP_MIN_LOG_LEVEL'])")
    assert quiet.returncode == 0 and quiet.stdout.split() == ["2.0", "SourceFileLoader", "3"], quiet.stderr
    # on this CPU machine nothing at all; a GPU machine may print real warnings, which must stay visible
    assert start_up_lines(quiet.stderr) == [] and BANNER.strip() not in quiet.stderr, quiet.stderr
    if not os.path.exists("/dev/nvidia0"):
        assert quiet.stderr == ""
    loud = _python("import tensorflow", {"TF_CPP_MIN_LOG_LEVEL": "3"})
    assert loud.returncode == 0
    assert all(is_start_up_noise(line) for line in loud.stderr.splitlines(keepends=True)), loud.stderr
    # a user who asks for TensorFlow's log lines gets them all, the start-up lines included
    debugging = _python("from utils.plumbing.quiet import hide_tensorflow_start_up_noise as h; h(); "
                        "import tensorflow", {"TF_CPP_MIN_LOG_LEVEL": "0"})
    assert debugging.returncode == 0 and BANNER.strip() in debugging.stderr, debugging.stderr
    assert len(start_up_lines(debugging.stderr)) >= len(start_up_lines(loud.stderr)) > 0


COMMANDS = ["examples/%s.py" % name for name in ("lagvae", "infovae", "evaluate", "sweep", "pareto_figure",
                                                "compare_legacy", "sintrovae_2d", "sintrovae_images")]
COMMANDS += ["bench/%s.py" % name for name in ("bench_lagvae", "bench_sintrovae_2d", "bench_sintrovae_images",
                                              "bench_ray_startup")]


@pytest.mark.parametrize("command", COMMANDS)
def test_help_prints_nothing_on_stderr_and_the_noise_is_hidden_before_the_project_is_imported(command):
    done = subprocess.run([sys.executable, os.path.join(REPO, command), "--help"], cwd=REPO, capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0 and "sage:" in done.stdout.splitlines()[0], done.stdout + done.stderr
    assert done.stderr == ""
    with open(os.path.join(REPO, command)) as stream:
        source = stream.read()
    # the call comes before the first module-level import of the project's code (which may import TensorFlow)
    call = source.index("\nhide_tensorflow_start_up_noise()\n")
    quiet_import = source.index("\nfrom utils.plumbing.quiet import hide_tensorflow_start_up_noise")
    imports = [position for position in (source.find(marker, quiet_import + 1) for marker in (
        "\nfrom utils", "\nimport utils", "\nfrom methods", "\nimport methods", "\nimport tensorflow",
        "\nimport keras", "\nfrom bench", "\nimport bench")) if position >= 0]
    assert quiet_import < call and all(call < position for position in imports), command
    assert all(source.find(marker, 0, quiet_import) < 0 for marker in ("\nfrom utils", "\nimport tensorflow",
                                                                        "\nfrom methods", "\nimport keras"))
