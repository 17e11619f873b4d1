"""Optional dependencies: which extra of ``pip install 'mutualize[...]'`` brings what.

The core needs numpy only: ``allocate``, ``Ledger``, journals and backtests' numeric
results. Tables (pandas, Parquet), progress bars, reports and plots, the command line
and the cluster sweep backends come with extras; :func:`require` imports one of their
packages or raises :class:`MissingExtraError` naming the extra to install.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from mutualize.errors import MutualizeError

__all__ = ["EXTRAS", "MissingExtraError", "require"]

#: Each extra and the packages it installs (pyproject.toml's optional dependencies).
EXTRAS: dict[str, tuple[str, ...]] = {
    "sim": ("pandas", "pyarrow", "tqdm"),
    "report": ("matplotlib",),
    "cli": ("click",),
    "dask": ("distributed",),
    "ray": ("ray",),
}


class MissingExtraError(MutualizeError, ImportError):
    """A feature needs a package of an extra that is not installed; the message says
    which ``pip install 'mutualize[...]'`` brings it."""


def require(module: str, feature: str, extra: str) -> ModuleType:
    """Import ``module`` for ``feature`` (a phrase such as ``"mutualize.sim tables"``),
    or raise :class:`MissingExtraError` naming the extra that installs it."""
    try:
        return importlib.import_module(module)
    except ImportError as exc:
        package = module.split(".")[0]
        raise MissingExtraError(
            f"{feature} need {package}: pip install 'mutualize[{extra}]'"
        ) from exc
