"""``mutualize.Ledger`` on the pure-Python backend: the reference ledger plus the
conveniences of the compiled one (numpy columns, journal files), so code written for
one backend runs on the other."""

from __future__ import annotations

import os
from typing import Any

import numpy as np
import numpy.typing as npt

from mutualize.journal import read_journal
from mutualize.ledger import write_journal_of
from mutualize.reference.ledger import Ledger as ReferenceLedger

__all__ = ["Ledger"]


class Ledger(ReferenceLedger):
    """The reference ledger (docs/ledger.md) with the compiled ledger's extra methods.

    Amounts in integer minor units, prices in ticks, sizes in lots.
    """

    def create_accounts(self, n: int) -> int:
        """Add ``n`` accounts (one event each); return the first new id."""
        first = int(self.num_accounts)
        for _ in range(n):
            self.create_account()
        return first

    def collaterals(self) -> npt.NDArray[np.int64]:
        """Collateral of every account (int64 array, minor units)."""
        accounts = self.state()["accounts"]
        return np.array([a["collateral"] for a in accounts], dtype=np.int64)

    def equities(self) -> npt.NDArray[np.int64]:
        """Equity of every account (int64 array, minor units)."""
        return np.array([self.equity(a) for a in range(self.num_accounts)], dtype=np.int64)

    def sizes(self, market: int) -> npt.NDArray[np.int64]:
        """Position sizes of every account in ``market`` (int64 array, lots)."""
        accounts = self.state()["accounts"]
        return np.array([a["positions"][market]["size"] for a in accounts], dtype=np.int64)

    @classmethod
    def from_journal(cls, path: str | os.PathLike[str]) -> Ledger:
        """Replay the journal file at ``path``."""
        ledger: Ledger = cls.replay(read_journal(path))
        return ledger

    def write_journal(self, path: str | os.PathLike[str]) -> None:
        """Write this ledger's whole journal to a file (replaced atomically)."""
        write_journal_of(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).restore, (self.snapshot(),))
