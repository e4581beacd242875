"""The guard every training command runs inside: a writable run folder held by this process alone, and
SIGTERM / SIGINT turned into a checkpoint at the next step boundary (utils/plumbing/run_lock.py,
utils/plumbing/stop_signals.py, utils/plumbing/storage.py); and the lines every command prints when it resumes
or stops a run."""
import contextlib
import sys

from utils.plumbing.run_lock import RunLock
from utils.plumbing.stop_signals import GracefulStop
from utils.plumbing.storage import make_run_directory


@contextlib.contextmanager
def guarded_run(logdir):
    """`with guarded_run(logdir) as stop:` ... check `stop.requested` after every step, checkpoint and return.

    On leaving, a run stopped by a signal exits the process with status 128 + the signal's number.
    """
    make_run_directory(logdir)
    with RunLock(logdir), GracefulStop() as stop:
        yield stop
    if stop.requested:
        sys.exit(stop.exit_status)


def stopped_message(stop, where, iteration):
    return ("Stopped by %s at iteration %d; checkpoint saved in %s. Run the same command again to resume."
            % (stop.signal_name, iteration, where))


def resume_message(run_dir, checkpoint, position):
    """The line every training command prints when it continues a run (`position`: from
    utils.plumbing.progress.run_position)."""
    return "Resuming %s at %s (resumed from %s)." % (run_dir, position, checkpoint)


def max_steps_message(position, max_steps, where):
    """The line every training command prints when --max-steps (total training steps of the run) stops it."""
    return ("Stopped at %s (--max-steps %d); checkpoint saved in %s. The same command without --max-steps "
            "continues the run." % (position, max_steps, where))
