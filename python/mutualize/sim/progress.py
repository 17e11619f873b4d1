"""A progress bar for long runs, shown only where someone is watching.

The bar appears only when it is enabled and the run lasts more than a second (tqdm's
``delay``); it is off when stderr is not a terminal (unless asked for), and always off
when the environment variable ``MUTUALIZE_NO_PROGRESS`` is set to a true value
(``1``, ``true``, ``yes``, ``on``). Off, it writes nothing at all. Bars are drawn by
tqdm (``pip install 'mutualize[sim]'``): without it, a bar left to the default is
simply not shown, and one asked for (``progress=True``) is an error naming the extra.
"""

from __future__ import annotations

import os
import sys
from types import TracebackType
from typing import TYPE_CHECKING, Any

from .._extras import MissingExtraError, require
from ..errors import InvalidInputError

if TYPE_CHECKING:
    from tqdm import tqdm

__all__ = ["NO_PROGRESS_ENV", "ProgressBar", "progress_bar", "progress_enabled"]

#: Set to 1 to turn every progress bar off.
NO_PROGRESS_ENV = "MUTUALIZE_NO_PROGRESS"

# Seconds a run must last before its bar is drawn.
_DELAY = 1.0


def progress_enabled(enabled: bool | None) -> bool:
    """Whether a bar would be shown: ``False`` when ``MUTUALIZE_NO_PROGRESS`` is set to a
    true value, else ``enabled``, or, when it is ``None``, whether stderr is a terminal."""
    if os.environ.get(NO_PROGRESS_ENV, "").strip().lower() in ("1", "true", "yes", "on"):
        return False
    if enabled is None:
        stream = sys.stderr
        return stream is not None and hasattr(stream, "isatty") and bool(stream.isatty())
    return bool(enabled)


class ProgressBar:
    """A context manager counting units of work (steps, runs) toward ``total``.

    Use :func:`progress_bar` to make one. ``update(n)`` adds ``n`` units; when the bar is
    off it does nothing.
    """

    def __init__(self, total: int, *, enabled: bool, desc: str, unit: str = "step") -> None:
        if isinstance(total, bool) or not isinstance(total, int) or total < 0:
            raise InvalidInputError(f"progress total must be an int >= 0, got {total!r}")
        self.total = total
        self.enabled = enabled
        self._bar: tqdm[Any] | None = None
        if enabled:
            bar_class = require("tqdm", "progress bars", "sim").tqdm
            self._bar = bar_class(
                total=total,
                desc=desc,
                unit=unit,
                delay=_DELAY,
                file=sys.stderr,
                leave=False,
                dynamic_ncols=True,
            )

    def update(self, n: int = 1) -> None:
        """Add ``n`` units of work done."""
        if self._bar is not None:
            self._bar.update(n)

    def close(self) -> None:
        """Remove the bar (idempotent)."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None

    def __enter__(self) -> ProgressBar:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.close()


def progress_bar(
    total: int, *, enabled: bool | None = None, desc: str = "", unit: str = "step"
) -> ProgressBar:
    """A progress bar over ``total`` units (steps by default), as a context manager.

    Args:
        total: units of work expected (>= 0).
        enabled: ``True``/``False`` to force it on or off; ``None``: on when stderr is a
            terminal. ``MUTUALIZE_NO_PROGRESS=1`` turns it off whatever this says.
        desc: the label in front of the bar.
        unit: what one unit is called.

    The bar is drawn only once the run has lasted a second, and removed when the
    context exits.
    """
    shown = progress_enabled(enabled)
    if shown and enabled is None:
        try:
            require("tqdm", "progress bars", "sim")
        except MissingExtraError:
            shown = False  # not asked for: no bar rather than an error
    return ProgressBar(total, enabled=shown, desc=desc, unit=unit)
