"""A run's configuration and final metrics as TensorBoard HParams summaries (`tensorboard.plugins.hparams`).

`write_hparams(run_dir, hparams, metrics)` writes, into `<run_dir>/hparams/`, one event file with the
session-start summary (`hparams_pb`) and each metric as a scalar `final/<key>` at step 0, so that
`tensorboard --logdir $EXP_LOG_PATH` lists every run of a sweep in the HParams dashboard. Written without
TensorFlow (tensorboard's own event writer), replaced as a whole (a new folder renamed over the old one).

`describe_run(run_dir)` recovers (hparams, metrics) from any finished run directory of the project's commands,
for runs made outside a sweep (`python examples/sweep.py hparams`).
"""
import json
import os
import shutil
import tempfile
import time

from utils.plumbing.errors import UserError
from utils.sweeps.experiments import read_results

HPARAMS_FOLDER = "hparams"
METRIC_PREFIX = "final/"


def _hparam_value(value):
    if isinstance(value, bool) or isinstance(value, str):
        return value
    if isinstance(value, (int, float)):
        return float(value)
    return str(value)


def write_hparams(run_dir, hparams, metrics, trial_id=None):
    """Write the HParams session summary and the final metrics of one run into <run_dir>/hparams/."""
    _without_tensorflow()
    from tensorboard.compat.proto import event_pb2, summary_pb2
    from tensorboard.plugins.hparams import summary_v2
    from tensorboard.summary.writer.event_file_writer import EventFileWriter

    target = os.path.join(run_dir, HPARAMS_FOLDER)
    staging = tempfile.mkdtemp(prefix=".hparams.", dir=run_dir)
    try:
        os.chmod(staging, 0o777 & ~_umask())
        writer = EventFileWriter(staging)
        now = time.time()
        session = summary_v2.hparams_pb({key: _hparam_value(v) for key, v in hparams.items()},
                                        trial_id=trial_id or os.path.basename(os.path.normpath(run_dir)),
                                        start_time_secs=now)
        writer.add_event(event_pb2.Event(wall_time=now, step=0, summary=session))
        values = [summary_pb2.Summary.Value(tag=METRIC_PREFIX + key, simple_value=float(value))
                  for key, value in sorted(metrics.items())]
        writer.add_event(event_pb2.Event(wall_time=now, step=0, summary=summary_pb2.Summary(value=values)))
        writer.close()
        old = None
        if os.path.exists(target):
            old = tempfile.mkdtemp(prefix=".hparams-old.", dir=run_dir)
            os.rmdir(old)
            os.replace(target, old)
        os.replace(staging, target)
        if old:
            shutil.rmtree(old, ignore_errors=True)
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    return target


def _without_tensorflow():
    """Make TensorBoard use its TensorFlow stub (`tensorboard.compat.tf` does so when a module named
    `tensorboard.compat.notf` exists): the sweep's driver writes protos only and need not spend seconds
    importing TensorFlow."""
    import sys
    import types
    if "tensorflow" not in sys.modules:
        sys.modules.setdefault("tensorboard.compat.notf", types.ModuleType("tensorboard.compat.notf"))


def _umask():
    mask = os.umask(0)
    os.umask(mask)
    return mask


def read_hparams(run_dir):
    """(hparams, metrics) read back from <run_dir>/hparams/ through TensorBoard's event reader and the
    HParams plugin's own parser."""
    from tensorboard.backend.event_processing import event_accumulator
    from tensorboard.plugins.hparams import metadata

    accumulator = event_accumulator.EventAccumulator(os.path.join(run_dir, HPARAMS_FOLDER),
                                                     size_guidance={event_accumulator.TENSORS: 0})
    accumulator.Reload()
    hparams = {}
    content = accumulator.PluginTagToContent(metadata.PLUGIN_NAME)
    for tag, data in content.items():
        if tag == metadata.SESSION_START_INFO_TAG:
            info = metadata.parse_session_start_info_plugin_data(data)
            for key, value in info.hparams.items():
                kind = value.WhichOneof("kind")
                hparams[key] = getattr(value, kind)
    metrics = {tag[len(METRIC_PREFIX):]: accumulator.Scalars(tag)[-1].value
               for tag in accumulator.Tags()["scalars"] if tag.startswith(METRIC_PREFIX)}
    return hparams, metrics


def describe_run(run_dir):
    """(hparams, metrics) of a finished run directory of lagvae.py / infovae.py (eval.pkl + config.json +
    the `{mi}-{e1}-{e2}` folder), sintrovae_2d.py (eval.json holds both) or sintrovae_images.py (eval.json
    and the folder names). A UserError for a folder that is no finished run."""
    from utils.legacy.runs import describe_run_directory
    run_dir = os.path.abspath(run_dir)
    if os.path.exists(os.path.join(run_dir, "eval.pkl")):
        method, z_dim, mi, e1, e2 = describe_run_directory(run_dir)
        hparams = dict(method=method, z_dim=z_dim, mi=mi, e1=e1, e2=e2)
        try:
            with open(os.path.join(run_dir, "config.json")) as stream:
                hparams.update({k: v for k, v in json.load(stream).items()
                                if isinstance(v, (bool, int, float, str))})
        except (OSError, ValueError):
            pass
        metrics = read_results(os.path.join(run_dir, "eval.pkl"))
        for split in ("train", "test"):
            if "%s_nll" % split in metrics and "%s_elbo" % split in metrics:
                metrics["%s_neg_elbo" % split] = metrics["%s_nll" % split] + metrics["%s_elbo" % split]
        return hparams, metrics
    path = os.path.join(run_dir, "eval.json")
    if not os.path.exists(path):
        raise UserError("%s has no eval.pkl or eval.json: it is not a finished run." % run_dir)
    with open(path) as stream:
        record = json.load(stream)
    parts = run_dir.split(os.sep)
    hparams = {k: v for k, v in record.items() if isinstance(v, (bool, str))}
    metrics = read_results(path)
    if "sintrovae2d" in parts:
        keys = ("seed", "iterations", "warmup", "num_components", "r_entropy", "mc", "beta_rec", "beta_kl",
                "beta_neg", "batch_size")
        hparams.update({k: record[k] for k in keys if k in record})
        metrics = {k: v for k, v in metrics.items() if k not in hparams}
    else:
        hparams.update(dataset=parts[-3], config=parts[-2], seed=int(parts[-1].replace("seed", "") or 0))
    return hparams, metrics
