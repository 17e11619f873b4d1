"""What every ``mutualize`` command shares: the error classes and exit codes, the
options, reading a scenario file and checking an output folder.

Errors in what the user gave (a bad scenario file, option or value) print one line,
``error: <message>``, on standard error and exit with status 2; a failure while running
exits with 1; Ctrl-C exits with 130.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

import click

from mutualize.errors import MutualizeError

if TYPE_CHECKING:
    from mutualize.sim import Policy, Scenario

__all__ = [
    "CONTEXT",
    "CliError",
    "CommandGroup",
    "RunError",
    "check_out_dir",
    "from_file",
    "load_scenario",
    "no_progress_option",
    "out_option",
    "pick_policies",
    "progress",
    "scenario_argument",
    "seed_option",
]

DEFAULT_REPORT = Path("mutualize-report")
CONTEXT: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


class CliError(click.ClickException):
    """A user error: printed as one line, ``error: <message>``, exit status 2."""

    exit_code = 2

    def format_message(self) -> str:
        """The message on one line (a parser's message can run over several)."""
        return re.sub(r"\s*\n\s*", " ", super().format_message()).strip()

    def show(self, file: IO[Any] | None = None) -> None:
        """Print the message on standard error, without a traceback."""
        click.echo(f"error: {self.format_message()}", err=True, file=file)


class RunError(CliError):
    """A failure while running (an engine or file-system error): exit status 1."""

    exit_code = 1


class CommandGroup(click.Group):
    """The command group: turns expected failures into clean messages and exit codes."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a closed pipe shows up here, not at interpreter exit
            return result
        except BrokenPipeError:
            # `mutualize demo | head`: the reader left; not an error.
            _silence_stdout()
            ctx.exit(0)
        except KeyboardInterrupt:
            click.echo("\ninterrupted", err=True)
            ctx.exit(130)
        except click.ClickException:
            raise
        except MutualizeError as exc:
            # ScenarioError, InvalidInputError ... (ValueErrors): what the user gave was
            # wrong. Anything else (a missing optional package, a broken invariant)
            # failed while running.
            if isinstance(exc, ValueError):
                raise CliError(str(exc)) from None
            raise RunError(str(exc)) from None
        except OSError as exc:
            raise RunError(_os_message(exc)) from None


def _silence_stdout() -> None:
    # A test runner's buffer has no real file descriptor: nothing to silence then.
    with contextlib.suppress(OSError, ValueError):
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def _os_message(exc: OSError) -> str:
    if exc.filename is not None and exc.strerror:
        return f"{exc.strerror}: {exc.filename}"
    return str(exc)


out_option = click.option(
    "--out",
    type=click.Path(path_type=Path),  # checked by check_out_dir, with our message
    default=DEFAULT_REPORT,
    show_default=True,
    help="Folder to write the report to (report.html and PNG plots); created on success.",
)
seed_option = click.option(
    "--seed",
    type=click.IntRange(min=0),
    default=None,
    help="Override the scenario's random seed (same seed, same results).",
)
no_progress_option = click.option(
    "--no-progress",
    is_flag=True,
    help="Hide the progress bar (it is shown only on a terminal anyway).",
)
scenario_argument = click.argument(
    "scenario_file", metavar="SCENARIO.toml", type=click.Path(path_type=Path)
)


def progress(no_progress: bool) -> bool | None:
    """The engine's ``progress`` argument: off when asked, else automatic."""
    return False if no_progress else None


def load_scenario(path: Path, seed: int | None) -> Scenario:
    """Read a scenario file; any problem with it is a :class:`CliError` naming the file."""
    from mutualize.sim import Scenario

    if not path.exists():
        raise CliError(f"scenario file not found: {path}")
    if not path.is_file():
        raise CliError(f"not a scenario file: {path}")
    try:
        scenario = Scenario.from_toml(path)
    except MutualizeError as exc:
        # A ScenarioError from a file already names it, then the key.
        message = str(exc)
        raise CliError(message if str(path) in message else f"{path}: {message}") from None
    except OSError as exc:
        raise CliError(f"cannot read {path}: {_os_message(exc)}") from None
    if seed is not None:
        scenario = scenario.with_seed(seed)
    return scenario


@contextlib.contextmanager
def from_file(path: Path) -> Iterator[None]:
    """Name ``path`` in a scenario error raised while running (a price or account file
    that cannot be read, a path whose prices grow too large): ``error: <file>: <key>:
    <why>``, as for the errors found when the file is read."""
    from mutualize.sim import ScenarioError

    try:
        yield
    except ScenarioError as exc:
        raise CliError(str(exc if exc.source else exc.from_source(str(path)))) from None


def pick_policies(scenario: Scenario, names: Sequence[str]) -> list[Policy]:
    """The scenario's policies named in ``names`` (or built-in presets); all when empty."""
    from mutualize.sim import POLICY_NAMES, policy

    own = list(scenario.policies)
    if not names:
        return own
    by_name = {p.name: p for p in own}
    picked: list[Policy] = []
    for name in names:
        if name in by_name:
            picked.append(by_name[name])
        elif name in POLICY_NAMES:
            picked.append(policy(name))
        else:
            known = sorted(set(by_name) | set(POLICY_NAMES))
            raise CliError(f"--policy: unknown policy {name!r}; known: {', '.join(known)}")
    if len({p.name for p in picked}) != len(picked):
        raise CliError("--policy: each policy may be named only once")
    return picked


def check_out_dir(out: Path) -> None:
    """Refuse, before running anything, an output folder that could not be created."""
    if out.exists() and not out.is_dir():
        raise CliError(f"--out: {out} exists and is not a folder")
    for parent in out.absolute().parents:  # the nearest existing ancestor must be a folder
        if parent.exists():
            if not parent.is_dir():
                raise CliError(f"--out: {parent} is not a folder")
            break
