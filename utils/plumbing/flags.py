"""Command-line flags shared by every command (examples/*.py, bench/*.py).

* `FiniteFloat`: click's FLOAT / FloatRange accept 'nan' and 'inf' (a NaN passes every range check), which
  then train until the loss is NaN. This type refuses them when the flags are parsed.
* `OneLineCommand`: a click command whose flag errors are one line, `error: Invalid value for '--x': ...`
  (the form of utils/errors.exit_on_user_error), instead of click's usage block.
* `shared_run_options`: the flags every training command and benchmark has (`--seed`, `--device`,
  `--xla/--no-xla`, `--log-every`, `--checkpoint-every`, `--max-steps`, `--epochs` or `--iterations`), defined
  once; `hidden_alias` keeps an old spelling working without showing it in --help.
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


# ------------------------------------------------------------------------------------------ shared run flags
# One definition of the flags every training command and benchmark has (README "Flags shared by every
# command"); a command passes only its defaults. MEANINGS opens each flag's help, the same words everywhere.
MEANINGS = {
    "--epochs": "passes over the training set",
    "--iterations": "training steps",
    "--seed": "random seed",
    "--device": "where to run: 'auto' (a free GPU, else the CPU), 'cpu', or a GPU index (nvidia-smi order)",
    "--xla": "compile the training steps with XLA",
    "--log-every": "training steps between log rows",
    "--checkpoint-every": "training steps between checkpoints",
    "--max-steps": "total training steps of the run",
}
SEED = click.IntRange(0, 2 ** 31 - 1)
ALIASES_KEY = "flag aliases"


def _help(flag, note):
    return MEANINGS[flag] + ("; " + note if note else "")


def _take_alias(ctx, param, value):
    """Callback of a shared flag: a hidden old spelling given on the command line stands in for a flag left at
    its default (the old spelling is processed first: click handles given flags before defaults)."""
    from click.core import ParameterSource
    if ctx.get_parameter_source(param.name) is ParameterSource.DEFAULT:
        return ctx.meta.get(ALIASES_KEY, {}).get(param.name, value)
    return value


def hidden_alias(declaration, target, type=None):
    """A hidden old spelling of the shared flag named `target` ('log_every', 'xla', ...), with its meaning:
    `hidden_alias('--log-interval', 'log_every', click.IntRange(min=1))`; boolean pairs as '--a/--no-a'."""
    from click.core import ParameterSource

    def remember(ctx, param, value):
        if value is not None and ctx.get_parameter_source(param.name) is not ParameterSource.DEFAULT:
            ctx.meta.setdefault(ALIASES_KEY, {})[target] = value

    extra = {} if "/" in declaration else {"type": type}
    return click.option(declaration, "alias_of_" + target, default=None, hidden=True, expose_value=False,
                        callback=remember, **extra)


def shared_run_options(length, length_default, xla, log_every, checkpoint_every=None, benchmark=False,
                       notes=None, aliases=()):
    """Decorator adding the shared flags to a click command, in this order: `--epochs` or `--iterations`
    (`length`), `--seed`, `--device`, `--xla/--no-xla`, `--log-every`, `--checkpoint-every`, `--max-steps`.

    xla, log_every, checkpoint_every: the command's defaults (None: decided at run time / not at all, said
    in `notes`); benchmark: no --checkpoint-every and no --max-steps (a benchmark writes no checkpoint and
    runs exactly --iterations); notes: {flag: text} appended to a flag's help (a default of None is shown as
    notes['<flag> default']); aliases: `hidden_alias(...)` options, old spellings kept for old scripts.
    """
    notes = dict(notes or {})

    def shown(flag, default):
        return notes.get(flag + " default", default is not None)

    flag = "--" + length
    options = [
        click.option(flag, type=click.IntRange(min=1), default=length_default, show_default=True,
                     callback=_take_alias, help=_help(flag, notes.get(flag))),
        click.option("--seed", type=SEED, default=0, show_default=True, help=_help("--seed", notes.get("--seed"))),
        click.option("--device", default="auto", show_default=True, help=_help("--device", notes.get("--device"))),
        click.option("--xla/--no-xla", default=xla, show_default=shown("--xla", xla), callback=_take_alias,
                     help=_help("--xla", notes.get("--xla"))),
        click.option("--log-every", type=click.IntRange(min=1), default=log_every,
                     show_default=shown("--log-every", log_every), callback=_take_alias,
                     help=_help("--log-every", notes.get("--log-every"))),
    ]
    if not benchmark:
        options += [
            click.option("--checkpoint-every", type=click.IntRange(min=0), default=checkpoint_every,
                         show_default=shown("--checkpoint-every", checkpoint_every), callback=_take_alias,
                         help=_help("--checkpoint-every", notes.get("--checkpoint-every"))),
            click.option("--max-steps", type=click.IntRange(min=1), default=None, callback=_take_alias,
                         help=_help("--max-steps", "counted from step 0 across resumes: the run stops there with "
                                    "a checkpoint; the same command without it continues")),
        ]
    options += list(aliases)

    def decorate(function):
        for option in reversed(options):
            function = option(function)
        return function
    return decorate
