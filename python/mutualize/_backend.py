"""The backend seam: the one place that decides which implementation runs.

A backend is the compiled Rust extension (``"rust"``: ``mutualize._backend_rust``) or
the pure-Python reference (``"python"``: ``mutualize._backend_python``); each is a
:class:`~mutualize._protocols.Backend` bundling the allocation kernel, the ledger class
and the backtest engine. ``mutualize.allocate``, ``mutualize.Ledger`` and
``mutualize.sim`` all reach their implementation through :func:`get`.

``MUTUALIZE_BACKEND=python`` makes the reference the default (the compiled module is
then never imported); ``=rust`` makes a missing extension an error; unset (or ``auto``)
uses the extension and falls back, with one warning, where it cannot be imported (a
platform without a wheel). An explicit ``backend="rust"``/``"python"`` argument (as
``mutualize.sim.run`` takes) overrides the default for that call.
"""

from __future__ import annotations

import importlib
import os
import warnings

from mutualize._protocols import Backend
from mutualize.errors import InvalidInputError

__all__ = ["BACKENDS", "ENV", "BackendWarning", "default", "get"]

#: The backends' names: the compiled extension, the pure-Python reference.
BACKENDS = ("rust", "python")
#: The environment variable that chooses the default backend.
ENV = "MUTUALIZE_BACKEND"

_MODULES = {"rust": "mutualize._backend_rust", "python": "mutualize._backend_python"}
_loaded: dict[str, Backend] = {}
_default: Backend | None = None


class BackendWarning(RuntimeWarning):
    """mutualize runs on the slow pure-Python reference instead of the compiled kernel."""


def _load(name: str) -> Backend:
    backend = _loaded.get(name)
    if backend is None:
        module = importlib.import_module(_MODULES[name])
        backend = module.BACKEND
        _loaded[name] = backend
    return backend


def default() -> Backend:
    """The default backend, chosen once from ``MUTUALIZE_BACKEND`` (see the module).

    Raises:
        ImportError: ``MUTUALIZE_BACKEND`` names no backend, or is ``rust`` and the
            extension cannot be imported.
    """
    global _default
    if _default is not None:
        return _default
    choice = os.environ.get(ENV, "auto").strip().lower() or "auto"
    if choice not in ("auto", *BACKENDS):
        raise ImportError(f"{ENV}={choice!r} is not a backend: use 'rust', 'python' or 'auto'")
    if choice == "python":
        reason = f"{ENV}=python"
    else:
        try:
            _default = _load("rust")
            return _default
        except ImportError as exc:
            if choice == "rust":
                raise
            reason = f"the compiled extension could not be imported ({exc})"
    warnings.warn(
        f"mutualize is using the pure-Python reference backend: {reason}. Results are "
        "identical but large inputs are orders of magnitude slower.",
        BackendWarning,
        stacklevel=4,
    )
    _default = _load("python")
    return _default


def get(name: str | None = None) -> Backend:
    """The backend called ``name`` (``"rust"`` or ``"python"``), or the default one.

    Raises:
        InvalidInputError: an unknown name.
        ImportError: ``"rust"`` where the compiled extension cannot be imported.
    """
    if name is None:
        return default()
    if name not in BACKENDS:
        raise InvalidInputError(f"backend must be 'rust', 'python' or None, got {name!r}")
    try:
        return _load(name)
    except ImportError as exc:
        raise ImportError(
            f"the compiled backend needs the extension mutualize._core, which could not be "
            f"imported ({exc}); install a mutualize wheel for this platform or use "
            "backend='python'"
        ) from exc
