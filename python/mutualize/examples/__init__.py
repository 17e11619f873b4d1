"""The example scenarios that ship with mutualize, to read in place or copy out.

``mutualize init [DIR]`` writes them (and a README of what each shows) to a folder;
from Python, :func:`path` gives the installed file to read in place::

    from mutualize.examples import path
    from mutualize.sim import Scenario

    scenario = Scenario.from_toml(path("crash.toml"))

The files: ``crash.toml`` (a crash shaped like 10 October 2025, the four demo policies),
``gbm.toml`` (a quiet week on two correlated markets), ``replay.toml`` with
``prices.csv`` (your own price path, one column per market, in ticks) and ``README.md``.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["FILES", "path", "write"]

FILES = ("README.md", "crash.toml", "gbm.toml", "replay.toml", "prices.csv")
"""The files :func:`write` copies, in the order it writes them."""

_HERE = Path(__file__).resolve().parent


def path(name: str) -> Path:
    """The installed example file ``name`` (one of :data:`FILES`, e.g. ``"crash.toml"``).

    Raises:
        ValueError: ``name`` is not one of the examples.
    """
    if name not in FILES:
        raise ValueError(f"no example named {name!r}; the examples: {', '.join(FILES)}")
    return _HERE / name


def write(folder: str | Path, *, overwrite: bool = False) -> list[Path]:
    """Copy every example into ``folder`` (created if missing); returns the files written.

    Nothing is written when any of them already exists and ``overwrite`` is false.

    Raises:
        FileExistsError: a file of the same name is already in ``folder`` (it names them).
        NotADirectoryError: ``folder`` exists and is not a folder.
    """
    target = Path(folder)
    if target.exists() and not target.is_dir():
        raise NotADirectoryError(f"not a folder: {target}")
    targets = [target / name for name in FILES]
    taken = [t for t in targets if t.exists()]
    if taken and not overwrite:
        names = ", ".join(t.name for t in taken)
        raise FileExistsError(f"already in {target}: {names}")
    target.mkdir(parents=True, exist_ok=True)
    for name, destination in zip(FILES, targets, strict=True):
        destination.write_bytes(path(name).read_bytes())
    return targets
