"""Graceful stop on SIGTERM / SIGINT: the training loop checkpoints at the next step boundary and exits.

Cluster schedulers send SIGTERM before they kill a preempted job, and Ctrl-C sends SIGINT. Inside
`with GracefulStop() as stop:` the first such signal only sets `stop.signal_name`; the loop looks at
`stop.requested` after each step, saves a checkpoint and returns. A second signal of the same kind acts
as usual (SIGINT raises KeyboardInterrupt, SIGTERM ends the process), for a user who wants out at once.
"""
import signal
import threading

STOP_SIGNALS = (signal.SIGTERM, signal.SIGINT)


class GracefulStop:
    def __init__(self, signals=STOP_SIGNALS):
        self.signals = tuple(signals)
        self.signal_number = None
        self._previous = {}

    @property
    def requested(self):
        return self.signal_number is not None

    @property
    def signal_name(self):
        return signal.Signals(self.signal_number).name if self.requested else None

    @property
    def exit_status(self):
        """The shell's convention for a process ended by a signal: 128 + its number."""
        return 128 + self.signal_number if self.requested else 0

    def _handle(self, number, frame):
        if self.requested:  # the second signal: behave as without this handler
            previous = self._previous.get(number, signal.SIG_DFL)
            signal.signal(number, previous if previous not in (None,) else signal.SIG_DFL)
            signal.raise_signal(number)
            return
        self.signal_number = number
        print("\n%s received: saving a checkpoint at the end of this step (send it again to stop at once)."
              % signal.Signals(number).name, flush=True)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():  # handlers can only be set there
            for number in self.signals:
                self._previous[number] = signal.getsignal(number)
                signal.signal(number, self._handle)
        return self

    def __exit__(self, *exc_info):
        for number, previous in self._previous.items():
            signal.signal(number, previous if previous is not None else signal.SIG_DFL)
        self._previous = {}
