"""Resumable runs: a `tf.train.Checkpoint` of everything that changes during training.

TensorFlow writes a checkpoint's data files first and then replaces the small `checkpoint` state file
atomically, so a run killed at any moment (kill -9 included) restores the last complete checkpoint.
"""
import os

import tensorflow as tf

from utils.errors import UserError

CHECKPOINT_FOLDER = "ckpt"


class RunCheckpoint:
    """Save and restore the whole training state of one run.

    `trackables` are keyword arguments for `tf.train.Checkpoint`: the model, every optimizer, extra
    variables (multipliers, counters, the random generator of the data pipeline).
    Files go to `<logdir>/ckpt/ckpt-N`; the last `max_to_keep` are kept.
    """

    def __init__(self, logdir, max_to_keep=2, **trackables):
        self.directory = os.path.join(logdir, CHECKPOINT_FOLDER)
        self.checkpoint = tf.train.Checkpoint(**trackables)
        self.manager = tf.train.CheckpointManager(self.checkpoint, self.directory, max_to_keep=max_to_keep)

    @property
    def latest(self):
        return self.manager.latest_checkpoint

    def save(self):
        """Write a new checkpoint and return its path."""
        return self.manager.save()

    def restore_latest(self, required=False):
        """Restore the newest checkpoint; return True when one was restored.

        With `required=True` a missing checkpoint is a UserError (for `--test` on a run never trained).
        """
        path = self.manager.latest_checkpoint
        if path is None:
            if required:
                raise UserError("no checkpoint in %s: train this configuration first (run the same command "
                                "without --test)." % self.directory)
            return False
        try:
            self.checkpoint.restore(path).assert_existing_objects_matched()
        except (AssertionError, ValueError, tf.errors.OpError) as error:
            raise UserError("the checkpoint %s does not match this model (%s): use the flags it was trained "
                            "with, or delete the folder to start again." % (path, str(error).splitlines()[0]))
        return True
