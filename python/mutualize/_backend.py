"""Choosing the backend: the compiled Rust kernel, or the pure-Python reference.

``MUTUALIZE_BACKEND=python`` forces the reference; ``=rust`` makes a missing extension
an error; unset (or ``auto``) uses the extension and falls back, with one warning,
where it cannot be imported (a platform without a wheel).
"""

from __future__ import annotations

import os
import warnings
from typing import cast

from mutualize._allocation import Kernel

__all__ = ["BackendWarning", "load_kernel"]


class BackendWarning(RuntimeWarning):
    """mutualize runs on the slow pure-Python reference instead of the compiled kernel."""


def load_kernel() -> tuple[str, Kernel]:
    """Return ``(name, kernel)`` with name ``"rust"`` or ``"python"``."""
    choice = os.environ.get("MUTUALIZE_BACKEND", "auto").strip().lower() or "auto"
    if choice not in ("auto", "rust", "python"):
        raise ImportError(
            f"MUTUALIZE_BACKEND={choice!r} is not a backend: use 'rust', 'python' or 'auto'"
        )
    if choice != "python":
        try:
            from mutualize import _core
        except ImportError as exc:
            if choice == "rust":
                raise
            reason = f"the compiled extension could not be imported ({exc})"
        else:
            return "rust", cast(Kernel, _core)
    else:
        reason = "MUTUALIZE_BACKEND=python"
    from mutualize.reference import KERNEL

    warnings.warn(
        f"mutualize is using the pure-Python reference backend: {reason}. Results are "
        "identical but large inputs are orders of magnitude slower.",
        BackendWarning,
        stacklevel=3,
    )
    return "python", KERNEL
