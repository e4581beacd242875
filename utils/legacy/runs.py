"""Readers of run directories, legacy (TF1 `ermongroup/lagvae`) and ours, which share one layout:

    $EXP_LOG_PATH/lvae/v1/{z_dim}/{mi}-{e1}-{e2}/       LagVAE     (infovae/v1/... for InfoVAE)
        eval.pkl      dict of np.float32: {train,test}_{elbo,nll,mmd}[, _l1, _l2]
        log.txt       legacy logger 'log' format: LagVAE `Iteration %d: all ...` lines,
                      InfoVAE and evaluation key/value tables framed by dashes
        events.out.tfevents.*   TF1 FileWriter scalars `train/*` every 1000 iterations

Nothing here needs TensorFlow except `read_event_scalars`.
"""
import glob
import math
import os
import pickle
import re
from dataclasses import dataclass, field

from utils.plumbing.errors import UserError

METHOD_FOLDERS = {"lagvae": "lvae/v1", "infovae": "infovae/v1"}

_FLOAT = r"-?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?|-?inf|nan"
_CONFIG_NAME = re.compile(r"^(%s)-(%s)-(%s)$" % (_FLOAT, _FLOAT, _FLOAT))
_ITERATION_LINE = re.compile(
    r"^Iteration (\d+): all (\S+) nll (\S+) elbo (\S+) mmd (\S+) l1 (\S+) l2 (\S+)\s*$")
_TABLE_ROW = re.compile(r"^\| (.*?) +\| (.*?) *\|$")


def config_folder_name(mi, e1, e2):
    """The legacy folder name: `'{}-{}-{}'.format(float(mi), float(e1), float(e2))`, e.g. `1.0-86.0-5.0`."""
    return "{}-{}-{}".format(float(mi), float(e1), float(e2))


def run_directory(root, method, z_dim, mi, e1, e2, dataset="mnist"):
    """`root/lvae/v1/{z}/{mi}-{e1}-{e2}` (or infovae/v1/...) as the legacy commands build it
    (`obtain_log_path('lvae/v1/{}/{}-{}-{}/'.format(z_dim, mi, e1, e2))`); runs on another data set (ours only)
    go to `<method>/v1-<dataset>/...`, so they never mix with MNIST runs."""
    folder = METHOD_FOLDERS[method] + ("" if dataset == "mnist" else "-" + dataset)
    return os.path.join(root, folder, str(int(z_dim)), config_folder_name(mi, e1, e2))


def parse_config_folder(name):
    """`'-1.0-86.0-5.0'` -> (-1.0, 86.0, 5.0); None when the name is not a legacy configuration folder."""
    match = _CONFIG_NAME.match(name)
    if match is None:
        return None
    return tuple(float(value) for value in match.groups())


def describe_run_directory(path):
    """`.../lvae/v1/64/1.0-86.0-5.0` -> ('lagvae', 64, 1.0, 86.0, 5.0); a UserError for any other folder."""
    parts = os.path.normpath(os.path.abspath(path)).split(os.sep)
    config = parse_config_folder(parts[-1])
    methods = {folder.split("/")[0]: method for method, folder in METHOD_FOLDERS.items()}
    if config is None or len(parts) < 4 or not parts[-2].isdigit() or parts[-4] not in methods:
        raise UserError("%s is not a run directory (expected .../lvae/v1/<z_dim>/<mi>-<e1>-<e2> or "
                        ".../infovae/v1/...)." % path)
    return (methods[parts[-4]], int(parts[-2])) + config


@dataclass
class Run:
    """One run directory and what it holds."""
    method: str          # 'lagvae' or 'infovae'
    z_dim: int
    mi: float
    e1: float
    e2: float
    path: str
    evaluation: dict = field(default=None)   # eval.pkl contents, None when the run has not finished

    @property
    def finished(self):
        return self.evaluation is not None

    def consistency(self, split):
        """-ELBO = `{split}_nll + {split}_elbo`, nan when missing."""
        ev = self.evaluation or {}
        try:
            return float(ev["%s_nll" % split]) + float(ev["%s_elbo" % split])
        except KeyError:
            return math.nan

    def value(self, key):
        ev = self.evaluation or {}
        return float(ev[key]) if key in ev else math.nan


def read_eval_pkl(path):
    """The eval.pkl dict (legacy: np.float32 values). A missing or unreadable file is a UserError."""
    if os.path.isdir(path):
        path = os.path.join(path, "eval.pkl")
    try:
        with open(path, "rb") as stream:
            evaluation = pickle.load(stream)
    except FileNotFoundError:
        raise UserError("%s does not exist: the run has not finished its evaluation (run it with --test)." % path)
    except (pickle.UnpicklingError, EOFError, AttributeError, ImportError, ValueError) as error:
        raise UserError("%s is not a readable eval.pkl (%s): delete it and re-run the evaluation." % (path, error))
    if not isinstance(evaluation, dict):
        raise UserError("%s holds a %s, not the dict of an eval.pkl." % (path, type(evaluation).__name__))
    return evaluation


def find_runs(root, methods=("lagvae", "infovae")):
    """Every configuration folder under `root/lvae/v1/*/` and `root/infovae/v1/*/`, sorted.

    Runs without eval.pkl are returned with `evaluation=None` (unfinished).
    """
    if not os.path.isdir(root):
        raise UserError("%s is not a folder: point EXP_LOG_PATH (or --logs) at the folder of the runs." % root)
    runs = []
    for method in methods:
        for z_folder in sorted(glob.glob(os.path.join(root, METHOD_FOLDERS[method], "*"))):
            if not os.path.basename(z_folder).isdigit():
                continue
            for run_folder in sorted(glob.glob(os.path.join(z_folder, "*"))):
                config = parse_config_folder(os.path.basename(run_folder))
                if config is None or not os.path.isdir(run_folder):
                    continue
                eval_path = os.path.join(run_folder, "eval.pkl")
                evaluation = read_eval_pkl(eval_path) if os.path.exists(eval_path) else None
                runs.append(Run(method, int(os.path.basename(z_folder)), *config, path=run_folder,
                                evaluation=evaluation))
    return runs


def _number(text):
    try:
        return float(text)
    except ValueError:
        return text


@dataclass
class LegacyLog:
    """What a legacy log.txt holds: LagVAE iteration lines and key/value tables (InfoVAE, evaluation)."""
    iterations: list   # dicts: iteration, all, nll, elbo, mmd, l1, l2
    tables: list       # dicts key -> float (or str when not a number), in file order


def parse_log_text(text):
    """Parse the legacy logger output from a string."""
    iterations, tables, table = [], [], None
    for line in text.splitlines():
        line = line.rstrip("\n")
        match = _ITERATION_LINE.match(line)
        if match:
            values = [float(v) for v in match.groups()[1:]]
            iterations.append(dict(iteration=int(match.group(1)),
                                   **dict(zip(("all", "nll", "elbo", "mmd", "l1", "l2"), values))))
            continue
        if line and set(line) == {"-"}:
            if table:            # closing frame of a table
                tables.append(table)
                table = None
            else:                # opening frame
                table = {}
            continue
        match = _TABLE_ROW.match(line)
        if match and table is not None:
            table[match.group(1).strip()] = _number(match.group(2).strip())
    return LegacyLog(iterations, tables)


def read_log_txt(path):
    if os.path.isdir(path):
        path = os.path.join(path, "log.txt")
    try:
        with open(path) as stream:
            return parse_log_text(stream.read())
    except FileNotFoundError:
        raise UserError("%s does not exist: is this a run directory?" % path)


def read_event_scalars(path):
    """Scalars of TF event files (a file, or every `events.out.tfevents.*` directly in a folder).

    Returns {tag: [(step, value), ...]} sorted by step. TF1 `simple_value` summaries (the legacy
    FileWriter) and TF2 `tf.summary.scalar` tensors are both read. Restarts are honoured as TensorBoard does:
    every `SessionLog.START` after the first drops the points at steps >= its step (the restart marker of a
    resumed run, `utils.plumbing.logger.TensorBoardScalars`), so each step appears once.
    """
    import tensorflow as tf

    files = sorted(glob.glob(os.path.join(path, "events.out.tfevents.*"))) if os.path.isdir(path) else [path]
    scalars = {}
    seen_start = False
    for name in files:
        for event in tf.compat.v1.train.summary_iterator(name):
            if event.session_log.status == tf.compat.v1.SessionLog.START:
                if seen_start:
                    scalars = {tag: [point for point in points if point[0] < event.step]
                               for tag, points in scalars.items()}
                seen_start = True
            for value in event.summary.value:
                kind = value.WhichOneof("value")
                if kind == "simple_value":
                    number = float(value.simple_value)
                elif kind == "tensor" and not value.tensor.tensor_shape.dim:
                    number = float(tf.make_ndarray(value.tensor))
                else:
                    continue
                scalars.setdefault(value.tag, []).append((int(event.step), number))
    return {tag: sorted(points) for tag, points in scalars.items()}
