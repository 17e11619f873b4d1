"""Stubs of the compiled extension ``mutualize._core`` (hand-written, checked by stubtest).

Only the raw kernels live here; use ``mutualize.allocate`` and
``mutualize.allocate_many``, which coerce inputs and wrap results.
"""

import numpy as np
import numpy.typing as npt

__all__ = ["__version__", "allocate", "allocate_many"]

__version__: str

def allocate(
    claims: npt.NDArray[np.int64],
    loss: int,
    rule: str,
    rounding: str,
    ids: npt.NDArray[np.int64] | None,
    caps: npt.NDArray[np.int64] | None,
    max_rate: tuple[int, int] | None,
    weights: npt.NDArray[np.int64] | None,
    out: npt.NDArray[np.int64],
) -> tuple[int, int, int, int, int]:
    """Raw kernel: writes the haircuts into ``out``; returns ``(total, target, dust,
    surplus, base)`` in minor units."""

def allocate_many(
    claims: npt.NDArray[np.int64],
    offsets: npt.NDArray[np.int64],
    losses: npt.NDArray[np.int64],
    rule: str,
    rounding: str,
    ids: npt.NDArray[np.int64] | None,
    caps: npt.NDArray[np.int64] | None,
    max_rate: tuple[int, int] | None,
    weights: npt.NDArray[np.int64] | None,
    out: npt.NDArray[np.int64],
) -> tuple[
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
    npt.NDArray[np.int64],
]:
    """Raw batch kernel: writes the haircuts into ``out``; returns ``(totals, targets,
    uncovered, dust, surplus)``."""
