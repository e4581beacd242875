"""Progress bars: a tqdm bar when stdout is a terminal, nothing otherwise (logs stay clean)."""
import sys

from tqdm import tqdm


def progress_bar(total, description, enabled=None, **kwargs):
    """A tqdm bar over `total` steps; disabled automatically when stdout is not a terminal."""
    if enabled is None:
        enabled = sys.stdout.isatty()
    return tqdm(total=total, desc=description, disable=not enabled, dynamic_ncols=True, leave=False, **kwargs)


def format_postfix(values):
    """Short `key=value` strings for a bar's postfix, e.g. {'nll': 88.1234} -> {'nll': '88.12'}."""
    return {key: "%.4g" % float(value) for key, value in values.items()}


def epoch_label(epochs_done, epochs):
    """'epoch 7/5000' for the epoch a run is in (or about to start) after `epochs_done` complete epochs: the one
    numbering of every command's progress bars and messages (1-based, as a bar that ends at 5000/5000)."""
    return "epoch %d/%d" % (epochs_done + 1, epochs)


def run_position(iteration, total=None, epochs_done=None, epochs=None):
    """Where a run stands, for resume and stop messages: 'iteration 50 of 90', 'iteration 1320, epoch 7/5000'
    (the steps made so far; the epoch as `epoch_label`), 'iteration 440, all 2 epochs done'."""
    text = "iteration %d" % iteration + (" of %d" % total if total else "")
    if epochs is not None:
        text += ", " + (epoch_label(epochs_done, epochs) if epochs_done < epochs else "all %d epochs done" % epochs)
    return text


def rate_line(done, total, seconds):
    """A benchmark's --log-every line: '  iteration 20/40: 6.51 it/s, 153.6 ms/it so far'."""
    return "  iteration %d/%d: %.3g it/s, %.1f ms/it so far" % (done, total, done / max(seconds, 1e-9),
                                                              1000 * seconds / max(done, 1))
