"""``mutualize init [DIR]``: write the example scenarios where a user can edit and run them."""

from __future__ import annotations

from pathlib import Path

import click

from mutualize._cli.common import CONTEXT, CliError

__all__ = ["COMMANDS", "init"]


@click.command(context_settings=CONTEXT)
@click.argument("folder", metavar="[DIR]", default=".", type=click.Path(path_type=Path))
@click.option("--force", is_flag=True, help="Overwrite example files already in DIR.")
def init(folder: Path, force: bool) -> None:
    """Write the example scenarios to DIR (default: the current folder).

    crash.toml (a crash shaped like 10 October 2025, four policies), gbm.toml (a quiet
    week on two markets), replay.toml with prices.csv (your own price path) and a
    README.md that says what each shows. Existing files are left alone unless --force.

    \b
    Examples:
      mutualize init
      mutualize init scenarios && mutualize compare scenarios/crash.toml
    """
    from mutualize.examples import write

    try:
        written = write(folder, overwrite=force)
    except (FileExistsError, NotADirectoryError) as exc:
        hint = "; use --force to overwrite" if isinstance(exc, FileExistsError) else ""
        raise CliError(f"{exc}{hint}") from None
    for file in written:
        click.echo(f"wrote {file}")
    crash = folder / "crash.toml"
    click.echo(f"\nnext: mutualize compare {crash}   (see {folder / 'README.md'})")


COMMANDS: tuple[click.Command, ...] = (init,)
