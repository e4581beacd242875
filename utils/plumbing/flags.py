"""Command-line flag types shared by every command (examples/*.py, bench/*.py).

* `FiniteFloat`: click's FLOAT / FloatRange accept 'nan' and 'inf' (a NaN passes every range check), which
  then train until the loss is NaN. This type refuses them when the flags are parsed.
* `OneLineCommand`: a click command whose flag errors are one line, `error: Invalid value for '--x': ...`
  (the form of utils/errors.exit_on_user_error), instead of click's usage block.
"""
import math

import click


class FiniteFloat(click.FloatRange):
    """A finite float, optionally within [min, max] (open ends with min_open / max_open), as click.FloatRange."""

    name = "float"

    def convert(self, value, param, ctx):
        number = click.FLOAT.convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail("%r is not a finite number" % (value,), param, ctx)
        return super().convert(number, param, ctx)


class OneLineUsageError(click.ClickException):
    """A flag error shown as the single line `error: <message>` (exit status 2, as click's usage errors)."""

    exit_code = 2

    def show(self, file=None):
        click.echo("error: %s (see --help)." % self.format_message().rstrip("."), file=file, err=file is None)


class OneLineCommand(click.Command):
    """`@click.command(cls=OneLineCommand)`: bad flags give one line on stderr and exit status 2."""

    def make_context(self, info_name, args, parent=None, **extra):
        try:
            return super().make_context(info_name, args, parent=parent, **extra)
        except click.exceptions.NoArgsIsHelpError:
            raise
        except click.UsageError as error:
            raise OneLineUsageError(error.format_message()) from error
