"""One process per run directory: an advisory `flock` on `<logdir>/.lock`.

The kernel drops an flock when its process ends, however it ends (kill -9 included), so a lock is never
left behind by a dead process. The file keeps the holder's pid and host for the message a second process
prints; the file itself is left in place (removing it would race with a process that is opening it).
"""
import errno
import fcntl
import os
import socket

from utils.plumbing.errors import UserError

LOCK_FILE = ".lock"


class RunLock:
    """`with RunLock(logdir):` holds the run directory for this process, or raises a one-line UserError."""

    def __init__(self, logdir):
        self.path = os.path.join(logdir, LOCK_FILE)
        self._descriptor = None

    def acquire(self):
        descriptor = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(descriptor, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as error:
            holder = _read_holder(descriptor)
            os.close(descriptor)
            if error.errno in (errno.EWOULDBLOCK, errno.EAGAIN, errno.EACCES):
                raise UserError("another process%s is already running in %s: wait for it to finish or stop it, "
                                "then run the same command again." % (holder, os.path.dirname(self.path)))
            raise
        os.ftruncate(descriptor, 0)
        os.write(descriptor, ("%d %s\n" % (os.getpid(), socket.gethostname())).encode())
        self._descriptor = descriptor
        return self

    def release(self):
        if self._descriptor is not None:
            os.close(self._descriptor)  # closing drops the flock
            self._descriptor = None

    def __enter__(self):
        return self.acquire()

    def __exit__(self, *exc_info):
        self.release()


def _read_holder(descriptor):
    try:
        text = os.pread(descriptor, 200, 0).decode(errors="replace").split()
    except OSError:
        return ""
    return " (pid %s on %s)" % (text[0], text[1]) if len(text) >= 2 else ""
