"""One error type for everything a user can fix: it is printed as one line, never as a stack trace."""
import functools
import sys


class UserError(Exception):
    """A problem the user can fix (missing variable, bad file, impossible flag).

    The message is one line that says what is wrong and what to do.
    """


def exit_on_user_error(main):
    """Decorator for command entry points: print a UserError, or a storage failure (full disk, read-only or
    unwritable folder; utils/plumbing/storage.py), as one line and exit with status 2."""

    @functools.wraps(main)
    def wrapper(*args, **kwargs):
        try:
            return main(*args, **kwargs)
        except UserError as error:
            print("error: %s" % error, file=sys.stderr)
            sys.exit(2)
        except Exception as error:
            from utils.plumbing.storage import storage_failure_message
            message = storage_failure_message(error)
            if message is None:
                raise
            print("error: %s" % message, file=sys.stderr)
            sys.exit(2)

    return wrapper
