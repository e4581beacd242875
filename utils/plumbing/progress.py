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
