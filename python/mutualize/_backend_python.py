"""The pure-Python backend: the reference kernel, ledger and backtest engine of
``mutualize.reference`` (no compiled code)."""

from __future__ import annotations

from mutualize._ledger_python import Ledger
from mutualize._protocols import Backend, Engine, Kernel, LedgerLike
from mutualize.reference import KERNEL
from mutualize.reference import sim as reference_sim

__all__ = ["BACKEND"]

# Typed as the protocols: mypy checks that the reference objects satisfy them.
_KERNEL: Kernel = KERNEL
_LEDGER: type[LedgerLike] = Ledger
_ENGINE: Engine = reference_sim

BACKEND = Backend(name="python", kernel=_KERNEL, ledger=_LEDGER, engine=_ENGINE)
