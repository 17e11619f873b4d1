"""The ``mutualize`` command line (also ``python -m mutualize``).

mutualize demo                          the built-in crash backtest, policies side by side
mutualize run SCENARIO.toml             one policy through a scenario: metrics and report
mutualize compare SCENARIO.toml         several policies through a scenario: table and report
mutualize sweep SCENARIO.toml --seeds   many seeds and parameter values, on any backend
mutualize allocate LOSS CLAIM...        allocate a loss (minor units) over claims
mutualize rules                         one loss shared under every allocation rule
mutualize init [DIR]                    write the example scenarios to DIR (_cli/init.py)
mutualize score PER_WAVE.csv            ADL policies scored on real waves (tracking, fairness)
mutualize replay ACCOUNTS.csv           per-account wave files through every policy

Errors in what the user gave (a bad scenario file, option or value) print one line,
``error: <message>``, on standard error and exit with status 2; a failure while running
exits with 1; Ctrl-C exits with 130. Nothing is written until the run has succeeded.

The commands live in ``mutualize._cli``, one module per family; each module's
``COMMANDS`` is added to :data:`main` in the order of :data:`COMMAND_MODULES`. The
command line needs click (``pip install 'mutualize[cli]'``, which also brings the
tables, progress bars and reports its commands use).
"""

from __future__ import annotations

import importlib

from mutualize._extras import require

require("click", "mutualize commands", "cli")

import click  # noqa: E402 - after the check that names the extra

import mutualize  # noqa: E402
from mutualize._cli.common import CONTEXT, CliError, CommandGroup, RunError  # noqa: E402
from mutualize._cli.sweep import parse_param, parse_seeds  # noqa: E402

__all__ = ["COMMAND_MODULES", "CliError", "RunError", "main", "parse_param", "parse_seeds"]

#: The modules whose ``COMMANDS`` make up the command line, in help order.
COMMAND_MODULES: tuple[str, ...] = (
    "mutualize._cli.backtest",
    "mutualize._cli.sweep",
    "mutualize._cli.kernel",
    "mutualize._cli.init",
    "mutualize._cli.research",
)


@click.group(cls=CommandGroup, context_settings=CONTEXT)
@click.version_option(mutualize.__version__, "--version", prog_name="mutualize")
def main() -> None:
    """Backtest how a derivatives venue shares its losses: insurance fund,
    socialized-loss haircuts and auto-deleveraging, exact to the minor unit.

    \b
    Start with:
      mutualize demo                      a seeded crash, four policies side by side
      mutualize compare my.toml           your scenario under its policies
      mutualize sweep my.toml --seeds 1..100 --param population.count=1000,5000

    Run `mutualize COMMAND --help` for each command's options and examples.
    """


for _module in COMMAND_MODULES:
    for _command in importlib.import_module(_module).COMMANDS:
        main.add_command(_command)


if __name__ == "__main__":
    main()
