"""Resumable runs: a `tf.train.Checkpoint` of everything that changes during training.

TensorFlow writes a checkpoint's data files first and then replaces the small `checkpoint` state file
atomically, so a run killed at any moment (kill -9 included) restores the last complete checkpoint.
A checkpoint damaged afterwards (a truncated copy, a full disk, a bad block) is set aside under
`ckpt/damaged/` with a one-line warning and the previous one is restored: at least two are always kept.
"""
import glob
import os
import sys

import tensorflow as tf

from utils.plumbing.errors import UserError

CHECKPOINT_FOLDER = "ckpt"
DAMAGED_FOLDER = "damaged"
MIN_TO_KEEP = 2


class RunCheckpoint:
    """Save and restore the whole training state of one run.

    `trackables` are keyword arguments for `tf.train.Checkpoint`: the model, every optimizer, extra
    variables (multipliers, counters, the random generator of the data pipeline).
    Files go to `<logdir>/ckpt/ckpt-N`; the last `max_to_keep` are kept.
    """

    def __init__(self, logdir, max_to_keep=MIN_TO_KEEP, warn=None, **trackables):
        self.directory = os.path.join(logdir, CHECKPOINT_FOLDER)
        self.max_to_keep = max(int(max_to_keep), MIN_TO_KEEP)
        self.warn = warn or (lambda message: print("warning: " + message, file=sys.stderr, flush=True))
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self._repair_state_file()
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=self.max_to_keep)

    def _repair_state_file(self):
        """TensorFlow ignores an unreadable `checkpoint` state file (the run would start again from scratch):
        rewrite it from the checkpoint files that are present, newest last."""
        state_file = os.path.join(self.directory, "checkpoint")
        if not os.path.exists(state_file) or _readable_state(self.directory):
            return
        numbered = []
        for index in glob.glob(os.path.join(glob.escape(self.directory), "ckpt-*.index")):
            suffix = os.path.basename(index)[len("ckpt-"):-len(".index")]
            if suffix.isdigit():
                numbered.append((int(suffix), index[:-len(".index")]))
        paths = [path for _, path in sorted(numbered)]
        if not paths:
            return
        from tensorflow.python.checkpoint import checkpoint_management
        checkpoint_management.update_checkpoint_state_internal(
            self.directory, model_checkpoint_path=paths[-1], all_model_checkpoint_paths=paths,
            all_model_checkpoint_timestamps=[os.path.getmtime(path + ".index") for path in paths],
            last_preserved_timestamp=min(os.path.getmtime(path + ".index") for path in paths) - 1.0,
            save_relative_paths=True)
        self.warn("the checkpoint list %s could not be read: rebuilt it from the %d checkpoint(s) present."
                  % (state_file, len(paths)))

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self):
        """Write a new checkpoint and return its path."""
        return self.manager.save()

    def restore_latest(self, required=False):
        """Restore the newest readable checkpoint; return True when one was restored.

        With `required=True` a missing checkpoint is a UserError (for `--test` on a run never trained).
        A newest checkpoint that cannot be read while an older one can is set aside (`ckpt/damaged/`) with a
        one-line warning; a checkpoint of another configuration is a UserError.
        """
        candidates = list(reversed(self.manager.checkpoints))
        latest = self.manager.latest_checkpoint
        if latest and latest not in candidates:
            candidates.insert(0, latest)
        if not candidates:
            if required:
                raise UserError("no checkpoint in %s: train this configuration first (run the same command "
                                "without --test)." % self.directory)
            return False
        failures = []
        for path in candidates:
            try:
                self.checkpoint.restore(path).assert_existing_objects_matched()
            except (AssertionError, ValueError, IndexError, EOFError, OSError, tf.errors.OpError) as error:
                failures.append((path, error))
                continue
            if failures:
                self._set_aside([failed for failed, _ in failures], kept=path)
            return True
        path, error = failures[0]
        if all(_is_damage(error) for _, error in failures):
            raise UserError("no checkpoint in %s can be read (%s: %s): restore the folder from a copy, or delete "
                            "it to start again." % (self.directory, os.path.basename(path), _first_line(error)))
        raise UserError("the checkpoint %s does not match this model (%s): use the flags it was trained "
                        "with, or delete the folder to start again." % (path, _first_line(error)))

    def _set_aside(self, damaged, kept):
        """Move the damaged checkpoints' files to ckpt/damaged/ and make `kept` the latest again."""
        folder = os.path.join(self.directory, DAMAGED_FOLDER)
        os.makedirs(folder, exist_ok=True)
        for path in damaged:
            for name in glob.glob(glob.escape(path) + ".*"):
                os.replace(name, os.path.join(folder, os.path.basename(name)))
            self.warn("checkpoint %s cannot be read: moved to %s, resuming from %s." % (
                os.path.basename(path), folder, os.path.basename(kept)))
        from tensorflow.python.checkpoint import checkpoint_management
        state = tf.train.get_checkpoint_state(self.directory)
        paths = list(state.all_model_checkpoint_paths)
        stamps = list(state.all_model_checkpoint_timestamps) or [state.last_preserved_timestamp] * len(paths)
        kept_names = set(os.path.basename(p) for p in damaged)
        remaining = [(p, t) for p, t in zip(paths, stamps) if os.path.basename(p) not in kept_names]
        checkpoint_management.update_checkpoint_state_internal(
            self.directory, model_checkpoint_path=kept, save_relative_paths=True,
            all_model_checkpoint_paths=[p for p, _ in remaining],
            all_model_checkpoint_timestamps=[t for _, t in remaining],
            last_preserved_timestamp=state.last_preserved_timestamp)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=self.max_to_keep)


def _readable_state(directory):
    import logging
    quiet = logging.getLogger("tensorflow")
    level = quiet.level
    quiet.setLevel(logging.ERROR)  # TensorFlow logs a parse error and returns None: we report it ourselves
    try:
        return tf.train.get_checkpoint_state(directory) is not None
    except Exception:
        return False
    finally:
        quiet.setLevel(level)


def _first_line(error):
    return (str(error).strip().splitlines() or [type(error).__name__])[0]


def _is_damage(error):
    """Errors of a checkpoint whose files are truncated, missing or corrupted (not of a model mismatch)."""
    if isinstance(error, (IndexError, EOFError, OSError, tf.errors.DataLossError, tf.errors.NotFoundError,
                          tf.errors.OutOfRangeError)):
        return True
    text = str(error).lower()
    return any(word in text for word in ("sstable", "corrupt", "checksum", "truncated", "read less bytes",
                                         "unable to open", "data loss"))
