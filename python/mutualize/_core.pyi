"""Stubs of the compiled extension ``mutualize._core`` (hand-written, checked by stubtest).

Only the raw kernels live here; use ``mutualize.allocate`` and
``mutualize.allocate_many``, which coerce inputs and wrap results.
"""

from collections.abc import Callable, KeysView, Mapping
from typing import Any, final

import numpy as np
import numpy.typing as npt
from typing_extensions import Self, disjoint_base

__all__ = [
    "Event",
    "Ledger",
    "__version__",
    "allocate",
    "allocate_many",
    "allocate_on_basis",
    "simulate",
]

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

def allocate_on_basis(
    claims: npt.NDArray[np.int64],
    loss: int,
    rule: str,
    rounding: str,
    ids: npt.NDArray[np.int64] | None,
    caps: npt.NDArray[np.int64] | None,
    max_rate: tuple[int, int] | None,
    weights: npt.NDArray[np.int64] | None,
    shares: npt.NDArray[np.int64] | None,
    unit: int | None,
    offset: npt.NDArray[np.int64] | None,
    out: npt.NDArray[np.int64],
) -> tuple[int, int, int, int, int]:
    """Raw kernel with ``shares``, ``unit`` and ``offset``: writes the haircuts into
    ``out``; returns ``(total, target, dust, surplus, base)`` in minor units."""

def simulate(
    inputs: Mapping[str, Any],
    waterfall: dict[str, Any],
    granularity: str,
    scan: str,
    progress: Callable[[int], object] | None = None,
) -> dict[str, Any]:
    """Raw backtest engine (see ``mutualize.sim.engine``). ``inputs`` maps the field
    names of ``EngineInputs`` (int64 arrays and ints: minor units, ticks, lots, bps) to
    their values; ``waterfall`` is the plain form; ``granularity`` is ``"step"`` or
    ``"bankruptcy"``, ``scan`` ``"index"`` or ``"every"``. Returns ``{"series": {...},
    "accounts": {...}, "totals": {...}}`` with int64 columns."""

@final
class Event:
    """One ledger event; ``dict(event)`` / ``event.to_dict()`` give the plain form."""

    @property
    def op(self) -> str: ...
    def to_dict(self) -> dict[str, Any]: ...
    def keys(self) -> KeysView[str]: ...
    def __getitem__(self, key: str, /) -> Any: ...
    def __eq__(self, value: object, /) -> bool: ...

@disjoint_base
class Ledger:
    """The compiled ledger (docs/ledger.md). Amounts in minor units, prices in ticks,
    sizes in lots."""

    def __new__(cls) -> Self: ...
    def create_market(
        self, tick_value: int, mark: int, imr_bps: int, mmr_bps: int, penalty_bps: int = 0
    ) -> Event: ...
    def create_account(self) -> Event: ...
    def create_accounts(self, n: int) -> int: ...
    def deposit(self, account: int, amount: int) -> Event: ...
    def withdraw(self, account: int, amount: int) -> Event: ...
    def fund_insurance(self, amount: int, market: int | None = None) -> Event: ...
    def fill(
        self,
        buyer: int,
        seller: int,
        market: int,
        price: int,
        size: int,
        buyer_fee: int = 0,
        seller_fee: int = 0,
        check_margin: bool = True,
    ) -> Event: ...
    def fill_many(
        self,
        market: int,
        buyers: npt.NDArray[np.int64],
        sellers: npt.NDArray[np.int64],
        prices: npt.NDArray[np.int64],
        sizes: npt.NDArray[np.int64],
    ) -> Event: ...
    def set_mark(self, market: int, price: int) -> Event: ...
    def set_marks(self, marks: npt.NDArray[np.int64]) -> Event: ...
    def apply_funding(self, market: int, delta: int) -> Event: ...
    def liquidate(
        self, account: int, counterparty: int, prices: dict[int, int] | None = None
    ) -> Event: ...
    def deleverage(
        self,
        account: int,
        market: int,
        counterparties: list[int] | None = None,
        price: str | int | None = None,
    ) -> Event: ...
    def set_waterfall(self, waterfall: dict[str, Any]) -> Event: ...
    def settle_session(self) -> Event: ...
    def equity(self, account: int) -> int: ...
    def maintenance(self, account: int) -> int: ...
    def initial(self, account: int) -> int: ...
    def upnl(self, account: int, market: int) -> int: ...
    def session_profit(self, account: int) -> int: ...
    def bankruptcy_price(self, account: int, market: int) -> int: ...
    def liquidatable(self) -> list[int]: ...
    def check(self) -> None: ...
    def collaterals(self) -> npt.NDArray[np.int64]: ...
    def equities(self) -> npt.NDArray[np.int64]: ...
    def sizes(self, market: int) -> npt.NDArray[np.int64]: ...
    @property
    def num_accounts(self) -> int: ...
    @property
    def num_markets(self) -> int: ...
    @property
    def insurance_fund(self) -> int: ...
    @property
    def fee_pool(self) -> int: ...
    @property
    def bad_debt(self) -> int: ...
    @property
    def deferred_loss(self) -> int: ...
    @property
    def journal(self) -> list[Event]: ...
    def waterfall_plain(self) -> dict[str, Any]: ...
    def state(self) -> dict[str, Any]: ...
    def snapshot(self) -> bytes: ...
    @classmethod
    def restore(cls, data: bytes) -> Self: ...
