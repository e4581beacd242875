"""Run folders that can be written, and storage failures (full disk, read-only, no permission) as one line."""
import errno
import os

from utils.plumbing.errors import UserError

STORAGE_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EROFS, errno.EACCES, errno.EPERM, errno.ENOTDIR, errno.EISDIR,
                  errno.EEXIST, errno.EIO}
STORAGE_WORDS = ("no space left on device", "disk quota exceeded", "read-only file system", "permission denied")


def make_run_directory(path, root_variable="EXP_LOG_PATH"):
    """Create the run folder `path` (and its parents), or raise a one-line UserError that says what to fix."""
    probe = os.path.abspath(path)
    while probe and not os.path.exists(probe):  # the deepest part that exists must be a folder
        probe = os.path.dirname(probe)
    if probe and not os.path.isdir(probe):
        raise UserError("%s is a file, not a folder: set %s to a folder (or move the file away) and run the command "
                        "again." % (probe, root_variable))
    try:
        os.makedirs(path, exist_ok=True)
    except OSError as error:
        raise UserError("cannot create the run folder %s (%s): set %s to a folder you can write to." % (
            path, error.strerror or error, root_variable))
    if not os.access(path, os.W_OK | os.X_OK):
        raise UserError("cannot write to the run folder %s: set %s to a folder you can write to." % (
            path, root_variable))
    return path


def storage_failure_message(error):
    """A one-line message for an OSError or TensorFlow error caused by the storage, else None."""
    if isinstance(error, OSError) and error.errno in STORAGE_ERRNOS:
        where = error.filename or "a file of the run"
        return "cannot write %s (%s): free space or fix the permissions, then run the same command again; it " \
               "resumes from the last checkpoint." % (where, error.strerror)
    text = str(error).lower()
    if type(error).__module__.startswith("tensorflow") and any(word in text for word in STORAGE_WORDS):
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return "cannot write a file of the run (%s): free space or fix the permissions, then run the same " \
               "command again; it resumes from the last checkpoint." % first[:200]
    return None
