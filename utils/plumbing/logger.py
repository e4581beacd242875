"""The legacy Baselines-style logger, ported to TensorFlow 2.

Behaviour kept from the legacy `utils/plumbing/logger.py`:
* formats 'stdout', 'log' (log.txt), 'json' (progress.json), 'tensorboard' (tb/), chosen by `configure`;
  the module default is LOG_OUTPUT_FORMATS = ['stdout', 'log', 'json'] (lagvae itself uses ['stdout', 'log']);
* the table printed by `dumpkvs`: Python floats (np.float64 included, a float subclass) as '%-8.3g',
  everything else (np.float32 included) with str(); keys and values over 23 characters cut to 20 + '...';
* `configure` runs once per process unless `reset()` is called first (an AssertionError otherwise).

Additions (declared in the README): a Baselines-style 'csv' format (progress.csv); `configure(append=True)`
appends to log.txt / progress.* of a resumed run instead of truncating them; `reset()` closes the files of
the logger it replaces; the stdout format writes to whatever `sys.stdout` is at write time.
TensorFlow is imported only when a TensorBoard writer is made, so `import utils.plumbing.logger` stays fast.
"""
import datetime
import json
import os
import os.path as osp
import sys
import tempfile
import time

LOG_OUTPUT_FORMATS = ['stdout', 'log', 'json']

DEBUG = 10
INFO = 20
WARN = 30
ERROR = 40
DISABLED = 50


class OutputFormat:
    """One destination of the logger."""

    def writekvs(self, kvs):
        raise NotImplementedError

    def writeseq(self, args):
        """Write a log message (a sequence of strings); formats without messages ignore it."""

    def close(self):
        pass


class _CurrentStdout:
    """`sys.stdout` looked up at every write (so redirections made after import are honoured)."""

    def write(self, text):
        sys.stdout.write(text)

    def flush(self):
        sys.stdout.flush()


def _open_text(path, append):
    return open(path, 'at' if append else 'wt')


class HumanOutputFormat(OutputFormat):
    """The framed key/value table of the legacy logger; also writes log messages one per line.

    `file` is a writable text stream (not closed by `close`) or a path (opened 'wt', or 'at' when
    `append`, and closed by `close`).
    """

    def __init__(self, file, append=False):
        if isinstance(file, (str, os.PathLike)):
            self.file = _open_text(file, append)
            self.owns_file = True
        else:
            self.file = file
            self.owns_file = False

    def writekvs(self, kvs):
        key2str = {}
        for key, val in kvs.items():
            valstr = '%-8.3g' % (val,) if isinstance(val, float) else str(val)
            key2str[self._truncate(key)] = self._truncate(valstr)
        # max() of an empty dict raises ValueError, as in the legacy logger.
        keywidth = max(map(len, key2str.keys()))
        valwidth = max(map(len, key2str.values()))
        dashes = '-' * (keywidth + valwidth + 7)
        lines = [dashes]
        for key, val in sorted(key2str.items()):
            lines.append('| %s%s | %s%s |' % (key, ' ' * (keywidth - len(key)), val, ' ' * (valwidth - len(val))))
        lines.append(dashes)
        self.file.write('\n'.join(lines) + '\n')
        self.file.flush()

    @staticmethod
    def _truncate(text):
        return text[:20] + '...' if len(text) > 23 else text

    def writeseq(self, args):
        for arg in args:
            self.file.write(arg)
        self.file.write('\n')
        self.file.flush()

    def close(self):
        if self.owns_file and not self.file.closed:
            self.file.close()


class JSONOutputFormat(OutputFormat):
    """One JSON dict per dump. Values with a dtype become float(value.tolist()) in place, as in the legacy
    logger (so formats listed after 'json' see Python floats)."""

    def __init__(self, path, append=False):
        self.file = _open_text(path, append)

    def writekvs(self, kvs):
        for key, val in kvs.items():
            if hasattr(val, 'dtype'):
                kvs[key] = float(val.tolist())
        self.file.write(json.dumps(kvs) + '\n')
        self.file.flush()

    def close(self):
        if not self.file.closed:
            self.file.close()


class CSVOutputFormat(OutputFormat):
    """progress.csv as upstream OpenAI Baselines writes it: a header of the keys seen so far; when a dump
    brings new keys they are appended (sorted) to the header and earlier rows are padded with empty cells.
    With `append`, the header of an existing file is read back and rows are added after it."""

    def __init__(self, path, append=False):
        self.keys = []
        self.sep = ','
        if append and osp.exists(path):
            self.file = open(path, 'r+t')
            header = self.file.readline().rstrip('\n')
            self.keys = header.split(self.sep) if header else []
            self.file.seek(0, os.SEEK_END)
        else:
            self.file = open(path, 'w+t')

    def writekvs(self, kvs):
        extra_keys = sorted(set(kvs.keys()) - set(self.keys))
        if extra_keys:
            self.keys.extend(extra_keys)
            self.file.seek(0)
            lines = self.file.readlines()
            self.file.seek(0)
            self.file.write(self.sep.join(self.keys) + '\n')
            for line in lines[1:]:
                self.file.write(line.rstrip('\n') + self.sep * len(extra_keys) + '\n')
            self.file.truncate()
        cells = ['' if kvs.get(key) is None else str(kvs[key]) for key in self.keys]
        self.file.write(self.sep.join(cells) + '\n')
        self.file.flush()

    def close(self):
        if not self.file.closed:
            self.file.close()


class TensorBoardScalars:
    """TensorBoard scalars with event files directly in `logdir` (the legacy `tf.summary.FileWriter(logdir)`
    layout). `write({'train/elbo': v, ...}, step)` writes each tag as given and flushes.

    The scalars are what the legacy `FileWriter.add_summary` wrote for a merged `tf.summary.scalar` summary:
    one event per call holding a `Summary` whose values are `simple_value`s (float32). TensorBoard reads
    them, and so do analysis scripts written for legacy runs (`tf.compat.v1.train.summary_iterator`,
    `value.simple_value`); `tf.summary.scalar` would store tensor summaries, whose `simple_value` reads 0.0.
    `writer` stays a `tf.summary` writer for other summaries (images).

    `restart_step` (a resumed run): events an earlier process wrote at steps >= restart_step (after its last
    checkpoint, so they are about to be written again) are hidden from TensorBoard by a `SessionLog.START`
    event at that step, which TensorBoard reads as a restart and purges them, as TF1's
    `FileWriter.add_session_log` did; without it the curves would show both versions of those steps.
    """

    def __init__(self, logdir, restart_step=None):
        import tensorflow as tf  # lazily: the logger must import without TensorFlow
        self._tf = tf
        os.makedirs(logdir, exist_ok=True)
        self.logdir = logdir
        before = set(_event_files(logdir)) if restart_step is not None else None
        _wait_for_a_later_second(logdir)
        self.writer = tf.summary.create_file_writer(logdir)
        if restart_step is not None:
            self.writer.flush()  # creates this writer's file, so that the marker can be named after it
            self._mark_restart(sorted(set(_event_files(logdir)) - before), int(restart_step))

    def _mark_restart(self, created, step):
        """Write the START events into their own events file whose name sorts just before this writer's file
        (`created`) and after every older one: TensorBoard reads the event files of a folder in name order."""
        tf = self._tf
        if created:
            newest = created[-1]
            marker = newest[:-1] + chr(ord(newest[-1]) - 1) + ".restart"
        else:  # the writer made no file yet: sort right after the newest existing one
            marker = max(_event_files(self.logdir), default="events.out.tfevents.0") + ".restart"
        start = tf.compat.v1.Event(wall_time=time.time(), step=step,
                                   session_log=tf.compat.v1.SessionLog(status=tf.compat.v1.SessionLog.START))
        # TensorBoard takes the first START of a folder for the session start (TF1's Supervisor wrote one when
        # a run began) and purges only on later ones: the second START is the restart.
        events = [tf.compat.v1.Event(wall_time=time.time(), file_version="brain.Event:2"), start, start]
        with tf.io.TFRecordWriter(os.path.join(self.logdir, marker)) as records:
            for event in events:
                records.write(event.SerializeToString())

    def write(self, scalars, step):
        if self.writer is None:
            raise ValueError('TensorBoardScalars.write called after close()')
        summary = self._tf.compat.v1.Summary(value=[
            self._tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value)) for tag, value in scalars.items()])
        with self.writer.as_default():
            self._tf.summary.experimental.write_raw_pb(summary.SerializeToString(), step=int(step))
        self.writer.flush()

    def close(self):
        if self.writer is not None:
            self.writer.close()
            self.writer = None


def _event_files(logdir):
    return [name for name in os.listdir(logdir) if "tfevents" in name]


def has_event_files(logdir):
    """True when `logdir` already holds TensorBoard event files (an earlier process wrote scalars there)."""
    return os.path.isdir(logdir) and bool(_event_files(logdir))


def _wait_for_a_later_second(logdir, longest=2.0):
    """Make the next writer's file sort after every event file already in `logdir`.

    TensorBoard (and `utils.legacy.runs.read_event_scalars`) read a folder's event files in name order, and
    a writer's file is named `events.out.tfevents.<second>.<host>.<pid>.<counter>...`: two files of the same
    second sort by host, pid and counter as strings ('10' before '9'), i.e. in any order. Waiting for the
    next second (at most `longest` seconds, e.g. after a run that failed and was restarted at once) makes
    the new file, and the restart marker named after it, sort after the older ones."""
    stamps = []
    for name in _event_files(logdir):
        parts = name.split(".")
        if len(parts) > 3 and parts[3].isdigit():
            stamps.append(int(parts[3]))
    if stamps:
        wait = max(stamps) + 1 - time.time()
        if 0 < wait <= longest:
            time.sleep(wait)


class TensorBoardOutputFormat(OutputFormat):
    """The legacy 'tensorboard' format: one event per dump in `<dir>/tb/`, step 1, 2, 3, ...
    Reimplemented with a tf.summary writer (the legacy pywrap EventsWriter is not TF2 public API);
    the scalars are `simple_value`s as the legacy `Summary.Value(tag=k, simple_value=float(v))`.
    Each configure starts a new event file whose steps start again at 1.

    Addition: with `step_key` (e.g. 'iteration') the step of a dump is that value, so the steps are global and
    continue after a resume; with `resume_step` too, events an earlier process wrote after that step (or, killed
    before its first checkpoint, at all) are hidden from TensorBoard by a restart marker (TensorBoardScalars)."""

    def __init__(self, directory, step_key=None, resume_step=None):
        self.dir = directory
        self.step = 1
        self.step_key = step_key
        restart = None
        if step_key is not None and resume_step is not None and has_event_files(directory):
            restart = int(resume_step) + 1
        self.scalars = TensorBoardScalars(directory, restart_step=restart)

    def writekvs(self, kvs):
        step = kvs.get(self.step_key) if self.step_key is not None else None
        self.scalars.write(kvs, self.step if step is None else int(step))
        self.step += 1

    def close(self):
        self.scalars.close()


def make_output_format(fmt, ev_dir, append=False, step_key=None, resume_step=None):
    """The output format named `fmt` writing into `ev_dir` (created if needed)."""
    os.makedirs(ev_dir, exist_ok=True)
    if fmt == 'stdout':
        return HumanOutputFormat(_CurrentStdout())
    if fmt == 'log':
        return HumanOutputFormat(osp.join(ev_dir, 'log.txt'), append=append)
    if fmt == 'json':
        return JSONOutputFormat(osp.join(ev_dir, 'progress.json'), append=append)
    if fmt == 'csv':
        return CSVOutputFormat(osp.join(ev_dir, 'progress.csv'), append=append)
    if fmt == 'tensorboard':
        return TensorBoardOutputFormat(osp.join(ev_dir, 'tb'), step_key=step_key, resume_step=resume_step)
    raise ValueError('Unknown format specified: %s' % (fmt,))


# ================================================================
# API (module-level functions acting on Logger.CURRENT)
# ================================================================

def logkv(key, val):
    """Record one value for the current dump."""
    Logger.CURRENT.logkv(key, val)


def logkvs(d):
    """Record every key/value pair of `d`."""
    for key, val in d.items():
        logkv(key, val)


def dumpkvs():
    """Write the recorded values to every format, then forget them."""
    Logger.CURRENT.dumpkvs()


def getkvs():
    return Logger.CURRENT.name2val


def log(*args, level=INFO):
    """Write the strings `args`, with no separators, to the console and the log files."""
    Logger.CURRENT.log(*args, level=level)


def debug(*args):
    log(*args, level=DEBUG)


def info(*args):
    log(*args, level=INFO)


def warn(*args):
    log(*args, level=WARN)


def error(*args):
    log(*args, level=ERROR)


def set_level(level):
    """Messages below `level` are dropped; DISABLED also turns off `dumpkvs`."""
    Logger.CURRENT.set_level(level)


def get_dir():
    """The folder the log files go to (None before `configure`)."""
    return Logger.CURRENT.get_dir()


record_tabular = logkv
dump_tabular = dumpkvs


class Logger:
    DEFAULT = None  # prints to the terminal only; restored by reset()
    CURRENT = None  # the logger the module functions use

    def __init__(self, dir, output_formats):
        self.name2val = {}
        self.level = INFO
        self.dir = dir
        self.output_formats = output_formats

    def logkv(self, key, val):
        self.name2val[key] = val

    def dumpkvs(self):
        if self.level == DISABLED:
            return
        for fmt in self.output_formats:
            fmt.writekvs(self.name2val)
        self.name2val.clear()

    def log(self, *args, level=INFO):
        if self.level <= level:
            for fmt in self.output_formats:
                fmt.writeseq(args)

    def set_level(self, level):
        self.level = level

    def get_dir(self):
        return self.dir

    def close(self):
        for fmt in self.output_formats:
            fmt.close()


Logger.DEFAULT = Logger.CURRENT = Logger(dir=None, output_formats=[HumanOutputFormat(_CurrentStdout())])


def configure(dir=None, format_strs=None, append=False, step_key=None, resume_step=None):
    """Send the log to `dir` in the formats `format_strs` (default LOG_OUTPUT_FORMATS).

    As in the legacy logger it may run only while the default logger is current (call `reset()` first
    otherwise); without `dir` it uses $OPENAI_LOGDIR or a fresh folder in the temporary directory.
    `append=True` (for a resumed run) appends to log.txt, progress.json and progress.csv instead of
    truncating them.

    Additions for resumable runs: `step_key` names the logged value that counts training progress (e.g.
    'iteration'): TensorBoard steps are taken from it. `resume_step` is the value the run resumes from (its
    checkpoint's, 0 for a fresh start): rows of progress.csv / progress.json an interrupted process logged after
    it are dropped (they are about to be logged again) and TensorBoard gets a restart marker.
    """
    assert Logger.CURRENT is Logger.DEFAULT, \
        "Only call logger.configure() when it's in the default state. Try calling logger.reset() first."
    if dir is None:
        dir = os.getenv('OPENAI_LOGDIR')
    if dir is None:
        dir = osp.join(tempfile.gettempdir(), datetime.datetime.now().strftime("openai-%Y-%m-%d-%H-%M-%S-%f"))
    if format_strs is None:
        format_strs = LOG_OUTPUT_FORMATS
    if step_key is not None and resume_step is not None:
        drop_progress_after(dir, step_key, resume_step)
    output_formats = []
    try:
        for fmt in format_strs:
            output_formats.append(make_output_format(fmt, dir, append=append, step_key=step_key,
                                                     resume_step=resume_step))
    except BaseException:
        for made in output_formats:
            made.close()
        raise
    Logger.CURRENT = Logger(dir=dir, output_formats=output_formats)
    log('Logging to %s' % dir)


def drop_progress_after(directory, step_key, last_step):
    """Rewrite progress.csv and progress.json of `directory` (atomically) without the rows whose `step_key`
    is above `last_step`: the rows an interrupted process logged after the checkpoint a run resumes from."""
    import csv
    import io
    from utils.plumbing.atomic import write_text_atomic

    def keep(value):
        try:
            return value in (None, '') or float(value) <= float(last_step)
        except (TypeError, ValueError):
            return True

    path = osp.join(directory, 'progress.csv')
    if osp.exists(path):
        with open(path, newline='') as stream:
            rows = list(csv.reader(stream))
        if rows and step_key in rows[0]:
            column = rows[0].index(step_key)
            kept = [rows[0]] + [row for row in rows[1:] if keep(row[column] if column < len(row) else None)]
            if len(kept) != len(rows):
                text = io.StringIO()
                csv.writer(text, lineterminator='\n').writerows(kept)
                write_text_atomic(path, text.getvalue())
    path = osp.join(directory, 'progress.json')
    if osp.exists(path):
        with open(path) as stream:
            lines = stream.readlines()
        kept = [line for line in lines if not line.strip() or keep(json.loads(line).get(step_key))]
        if len(kept) != len(lines):
            write_text_atomic(path, ''.join(kept))


def reset():
    """Close the configured logger's files and go back to the default (terminal-only) logger."""
    if Logger.CURRENT is not Logger.DEFAULT:
        Logger.CURRENT.close()
    Logger.CURRENT = Logger.DEFAULT
    log('Reset logger')
