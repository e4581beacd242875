"""TensorFlow's start-up noise, hidden in one place: every command and benchmark calls
`hide_tensorflow_start_up_noise()` before anything else can import TensorFlow.

`TF_CPP_MIN_LOG_LEVEL=3` (unless already set) hides TensorFlow's own C++ log lines. It does not reach the lines
that TensorFlow's shared libraries print through absl while `import tensorflow` loads them, before absl
logging is initialised: the 'All log messages before absl::InitializeLog()' banner, the oneDNN notice and
'Could not find cuda drivers', twice (two libraries), on file descriptor 2 whatever the level, and no variable
or import order silences them (`TF_ENABLE_ONEDNN_OPTS=0` would hide the notice but changes the numbers).
So the first `import tensorflow` of the process, wherever it happens, runs with file descriptor 2 sent to a
temporary file; afterwards every line written there goes back to stderr except the known start-up lines
(`is_start_up_noise`): an error or warning printed while TensorFlow loads is still shown. Neither this module
nor the call imports TensorFlow (`--help` stays instant).
"""
import importlib.abc
import importlib.util
import os
import re
import sys
import tempfile

ABSL_BANNER = "WARNING: All log messages before absl::InitializeLog() is called are written to STDERR"
# absl's line prefix: severity, MMDD, hh:mm:ss.us (0000 00:00:<seconds since 1970> before absl is
# initialised), thread id, file:line]
ABSL_LINE = re.compile(r"^([IWE])\d{4} \d\d:\d\d:\d+\.\d+\s+\d+ \S+:\d+\] ")
# Warnings and errors that loading TensorFlow prints on machines where nothing is wrong (CUDA plugins registered
# twice by two libraries, TensorRT not installed); everything else at W or E level is shown.
HARMLESS = ("Unable to register cuDNN factory", "Unable to register cuFFT factory",
            "Unable to register cuBLAS factory", "computation placer already registered",
            "TF-TRT Warning: Could not find TensorRT")


def is_start_up_noise(line):
    """Whether a line that `import tensorflow` printed is known start-up noise: the absl banner, an
    information line (never an error), or one of the harmless warnings above."""
    if line.strip() == ABSL_BANNER:
        return True
    match = ABSL_LINE.match(line)
    return bool(match) and (match.group(1) == "I" or any(text in line for text in HARMLESS))


def filter_start_up_noise(text):
    """`text` without its start-up noise lines (line ends kept)."""
    return "".join(line for line in text.splitlines(keepends=True) if not is_start_up_noise(line))


class StderrFiltered:
    """`with StderrFiltered():` sends file descriptor 2 to a temporary file and, on exit, writes what came
    there back to file descriptor 2 without the start-up noise. Without a usable descriptor 2 it does nothing."""

    def __enter__(self):
        self.saved = self.capture = None
        try:
            sys.stderr.flush()
            self.capture = tempfile.TemporaryFile()
            self.saved = os.dup(2)
            os.dup2(self.capture.fileno(), 2)
        except (OSError, ValueError, AttributeError):  # no descriptor 2, no temporary folder: say everything
            if self.capture is not None:
                self.capture.close()
            self.saved = self.capture = None
        return self

    def __exit__(self, *exc_info):
        if self.saved is None:
            return False
        try:
            sys.stderr.flush()
        except (OSError, ValueError, AttributeError):
            pass
        os.dup2(self.saved, 2)
        os.close(self.saved)
        self.capture.seek(0)
        kept = filter_start_up_noise(self.capture.read().decode("utf-8", "replace"))
        self.capture.close()
        if kept:
            os.write(2, kept.encode("utf-8"))
        return False


class _FilteredLoader(importlib.abc.Loader):
    """The loader of the `tensorflow` package, executing it inside `StderrFiltered`."""

    def __init__(self, loader):
        self.loader = loader

    def create_module(self, spec):
        return self.loader.create_module(spec)

    def exec_module(self, module):
        try:
            with StderrFiltered():
                self.loader.exec_module(module)
        finally:  # the package keeps its real loader
            module.__loader__ = self.loader
            if getattr(module, "__spec__", None) is not None:
                module.__spec__.loader = self.loader

    def __getattr__(self, name):
        return getattr(self.loader, name)


class _FirstTensorFlowImport(importlib.abc.MetaPathFinder):
    """Finds `tensorflow` once, with the real finders, and wraps its loader in `_FilteredLoader`."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != "tensorflow":
            return None
        if self in sys.meta_path:
            sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is not None and spec.loader is not None:
            spec.loader = _FilteredLoader(spec.loader)
        return spec


def hide_tensorflow_start_up_noise():
    """`TF_CPP_MIN_LOG_LEVEL` 3 unless set, and the first `import tensorflow` of this process filtered (nothing
    to filter once TensorFlow is imported). A user who sets `TF_CPP_MIN_LOG_LEVEL` below 3 (to debug
    TensorFlow itself) gets every line, unfiltered. Calling it again changes nothing."""
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    if os.environ["TF_CPP_MIN_LOG_LEVEL"].strip() in ("0", "1", "2"):
        return
    if "tensorflow" not in sys.modules and not any(isinstance(finder, _FirstTensorFlowImport)
                                                   for finder in sys.meta_path):
        sys.meta_path.insert(0, _FirstTensorFlowImport())
