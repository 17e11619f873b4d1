"""``mutualize.Ledger`` on the compiled backend: the Rust ledger plus the conveniences
that are the same for both backends (replay, journal files, pickling, waterfall objects)."""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from typing import Any

from mutualize import _core
from mutualize.journal import read_journal
from mutualize.ledger import plain_waterfall, replay_into, write_journal_of
from mutualize.waterfall import Waterfall

__all__ = ["Ledger"]


class Ledger(_core.Ledger):
    """A venue's book in one settlement asset: accounts, linear perpetual markets, the
    insurance fund, fee pool and bad debt, and the loss waterfall (docs/ledger.md).

    Amounts are integer minor units, prices integer ticks, sizes integer lots. Every
    operation is atomic (it applies whole or raises and changes nothing), returns an
    event and appends it to ``journal()``. A ledger shared between threads serializes
    its operations.
    """

    @property
    def waterfall(self) -> Waterfall:
        """The waterfall configuration."""
        return Waterfall.from_dict(self.waterfall_plain())

    def set_waterfall(self, waterfall: Waterfall | Mapping[str, Any]) -> Any:
        """Replace the waterfall (a ``Waterfall`` or its plain dict form)."""
        return super().set_waterfall(plain_waterfall(waterfall))

    @classmethod
    def replay(cls, events: Iterable[Mapping[str, Any]]) -> Ledger:
        """A new ledger with ``events`` re-executed; each must reproduce its effects."""
        ledger: Ledger = replay_into(cls(), events)
        return ledger

    @classmethod
    def from_journal(cls, path: str | os.PathLike[str]) -> Ledger:
        """Replay the journal file at ``path`` (see ``mutualize.journal``)."""
        return cls.replay(read_journal(path))

    def write_journal(self, path: str | os.PathLike[str]) -> None:
        """Write this ledger's whole journal to a file (replaced atomically)."""
        write_journal_of(self, path)

    def __reduce__(self) -> tuple[Any, ...]:
        return (type(self).restore, (bytes(self.snapshot()),))

    def __repr__(self) -> str:
        return (
            f"Ledger(accounts={self.num_accounts}, markets={self.num_markets}, "
            f"insurance_fund={self.insurance_fund}, fee_pool={self.fee_pool}, "
            f"bad_debt={self.bad_debt}, events={len(self.journal)})"
        )
