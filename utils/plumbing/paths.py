"""Paths from the environment: EXP_LOG_PATH (where runs are logged) and DATA_PREFIX (where data lives).

The legacy code read these at import time (a KeyError without them); here they are read when used
and a missing variable is a one-line UserError.
"""
import os

from utils.plumbing.errors import UserError


def _required_directory_variable(name, what, example):
    value = os.environ.get(name, "").strip()
    if not value:
        raise UserError(
            "%s is not set: set it to the folder %s, e.g. `export %s=%s`." % (name, what, name, example))
    return os.path.abspath(os.path.expanduser(value))


def exp_log_path():
    """The root folder of all runs ($EXP_LOG_PATH)."""
    return _required_directory_variable("EXP_LOG_PATH", "where runs are logged", "$HOME/lagvae-runs")


def data_prefix():
    """The root folder of the data sets ($DATA_PREFIX); MNIST lives in $DATA_PREFIX/mnist."""
    return _required_directory_variable("DATA_PREFIX", "that holds the data sets", "../shared/data")


def obtain_log_path(path):
    """Legacy `utils.obtain_log_path`: `os.path.join($EXP_LOG_PATH, path)`."""
    return os.path.join(exp_log_path(), path)


def data_path(path):
    """`os.path.join($DATA_PREFIX, path)`; an absolute `path` is returned as it is."""
    if os.path.isabs(path):
        return path
    return os.path.join(data_prefix(), path)
