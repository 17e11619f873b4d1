"""The loss waterfall configuration, shared by the compiled and the reference ledger.

When a liquidation leaves an account with negative equity, its deficit ``D`` (integer
minor units of the settlement asset) runs through the stages of a ``Waterfall`` in
order (docs/ledger.md, "The waterfall"):

- ``InsuranceFund(cap=None, floor=0)`` pays ``min(D, max(0, fund - floor), cap)``;
- ``FeePool()`` pays ``min(D, fee_pool)``;
- ``Adl(ranking, price, seed, scores)`` turns the liquidation into auto-deleveraging of
  ranked opposite positions when the stages before it cannot cover ``D``;
- ``Socialize(rule, rounding, base, max_rate, weights)`` haircuts other accounts with
  ``mutualize.allocate`` (or, with ``timing="deferred"``, accrues ``D`` until
  ``settle_session``);

and what no stage pays is residual bad debt. Every class here is a frozen dataclass that
validates itself on construction (``InvalidInputError`` with a specific message;
``AmountOverflowError`` for an integer outside int64). ``Waterfall.to_dict()`` gives the
plain form both ledgers store, compare and journal; ``Waterfall.from_dict`` reads it back.

The presets at the bottom (``okx_clawback()``, ``bitmex_adl()`` ...) return the
configurations of named venues; ``PRESETS`` maps their names to those functions.
"""

from __future__ import annotations

import numbers
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from fractions import Fraction
from math import gcd
from typing import Any, ClassVar

from mutualize._coerce import as_rate
from mutualize.errors import AmountOverflowError, AmountTypeError, InvalidInputError

__all__ = [
    "ADL_PRICES",
    "BASES",
    "KINDS",
    "PRESETS",
    "RANKINGS",
    "ROUNDINGS",
    "RULES",
    "TIMINGS",
    "Adl",
    "FeePool",
    "InsuranceFund",
    "Socialize",
    "Stage",
    "Waterfall",
    "binance_adl",
    "bitmex_adl",
    "deribit_session",
    "drift_socialize",
    "dydx_deleverage",
    "hyperliquid_adl",
    "okx_clawback",
    "pro_rata",
]

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1

KINDS = ("insurance_fund", "fee_pool", "adl", "socialize")
RULES = ("pro_rata", "equal_loss", "equal_award")
ROUNDINGS = ("exact", "down", "up")
BASES = ("session_profit", "unrealized_pnl", "equity", "open_interest", "weights")
RANKINGS = ("pnl", "pnl_leverage", "hyperliquid", "random", "scores")
ADL_PRICES = ("bankruptcy", "mark")
TIMINGS = ("immediate", "deferred", "batched")

# Bases whose socialization caps each haircut at the account's positive equity: the
# kernel's caps need rounding="exact" and a rule other than equal_award.
_CAPPED_BASES = ("open_interest", "weights")

RateLike = tuple[int, int] | Sequence[int] | Fraction | Decimal | int | str


# --------------------------------------------------------------------------- helpers


def _int(value: object, name: str, *, minimum: int | None = None) -> int:
    """An exact int64 configuration value (bool, float and str are refused)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be an int, got {type(value).__name__} {value!r}")
    number = int(value)
    if not INT64_MIN <= number <= INT64_MAX:
        raise AmountOverflowError(f"{name} = {number} does not fit in int64")
    if minimum is not None and number < minimum:
        raise InvalidInputError(f"{name} must be >= {minimum}, got {number}")
    return number


def _choice(value: object, name: str, allowed: tuple[str, ...]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise InvalidInputError(f"unknown {name} {value!r}; expected one of {', '.join(allowed)}")
    return value


def _int_list(value: object, name: str, *, minimum: int | None = None) -> tuple[int, ...]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Iterable):
        raise InvalidInputError(f"{name} must be a list of ints, one per account")
    return tuple(_int(item, f"{name}[{i}]", minimum=minimum) for i, item in enumerate(value))


def _rate(value: object) -> tuple[int, int]:
    """``max_rate`` as ``(num, den)`` in lowest terms, ``0 <= num <= den``, ``den > 0``.

    Takes a ``[num, den]`` pair (the plain form) or anything ``mutualize.allocate`` takes:
    a ``Fraction``, ``int``, ``Decimal`` or ``str`` such as ``"0.25"`` / ``"1/4"``.
    """
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise InvalidInputError(f"max_rate as a pair must be [num, den], got {value!r}")
        num = _int_like(value[0], "max_rate numerator")
        den = _int_like(value[1], "max_rate denominator")
        if den <= 0:
            raise InvalidInputError(f"max_rate denominator must be > 0, got {den}")
        if not 0 <= num <= den:
            raise InvalidInputError(f"max_rate must be between 0 and 1, got {num}/{den}")
        if den >= 2**128:
            raise AmountOverflowError(f"max_rate {num}/{den} needs more than 128 bits")
        common = gcd(num, den)
        return num // common, den // common
    try:
        return as_rate(value, "max_rate")
    except AmountTypeError as exc:
        raise InvalidInputError(str(exc)) from None


def _int_like(value: object, name: str) -> int:
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise InvalidInputError(f"{name} must be an int, got {value!r}")
    return int(value)


# --------------------------------------------------------------------------- stages


@dataclass(frozen=True)
class InsuranceFund:
    """Stage: the venue's insurance fund pays first.

    Pays ``min(D, max(0, insurance_fund - floor), cap)`` of a deficit ``D``.

    Attributes:
        cap: the most the fund pays per liquidation, in minor units (``None``: no cap).
        floor: the balance the fund keeps untouched, in minor units (>= 0).
        per_market: pay from (and collect penalties into) the bankrupt market's own
            fund (``Ledger.fund_insurance(amount, market=m)``) instead of the shared
            one; the market is the bankrupt account's first with a position.
    """

    kind: ClassVar[str] = "insurance_fund"
    cap: int | None = None
    floor: int = 0
    per_market: bool = False

    def __post_init__(self) -> None:
        if self.cap is not None:
            object.__setattr__(self, "cap", _int(self.cap, "insurance_fund cap", minimum=0))
        object.__setattr__(self, "floor", _int(self.floor, "insurance_fund floor", minimum=0))
        if not isinstance(self.per_market, bool):
            raise InvalidInputError(
                f"insurance_fund per_market must be a bool, got {self.per_market!r}"
            )

    def to_dict(self) -> dict[str, Any]:
        """The plain form: ``{"kind": "insurance_fund", "cap", "floor", "per_market"}``."""
        return {
            "kind": self.kind,
            "cap": self.cap,
            "floor": self.floor,
            "per_market": self.per_market,
        }


@dataclass(frozen=True)
class FeePool:
    """Stage: the pool of trading fees collected by ``fill`` pays ``min(D, fee_pool)``."""

    kind: ClassVar[str] = "fee_pool"

    def to_dict(self) -> dict[str, Any]:
        """The plain form: ``{"kind": "fee_pool"}``."""
        return {"kind": self.kind}


@dataclass(frozen=True)
class Adl:
    """Stage: auto-deleveraging of ranked opposite positions.

    When the stages before this one cannot cover a liquidation's deficit, the bankrupt
    account's positions are closed against the best-ranked opposite positions instead of
    against the liquidator (docs/ledger.md, "Liquidation" and "Deleveraging").

    Attributes:
        ranking: ``"pnl"`` (unrealized PnL), ``"pnl_leverage"`` (BitMEX/Bybit/Binance:
            PnL% times effective leverage, divided by it when PnL is negative),
            ``"hyperliquid"`` (``(mark / entry) * (notional / equity)``), ``"random"``
            (the candidates in id order rotated by ``seed``) or ``"scores"`` (the
            caller's ``scores``, higher first).
        price: ``"bankruptcy"`` (the bankrupt position's bankruptcy price, in ticks) or
            ``"mark"`` (the market's mark price; the deficit then stays for later stages).
        seed: the rotation of ``"random"`` (an int >= 0).
        scores: one int score per account id, required by and only allowed with
            ``ranking="scores"``. Accounts beyond its length rank after every scored one.
    """

    kind: ClassVar[str] = "adl"
    ranking: str = "pnl_leverage"
    price: str = "bankruptcy"
    seed: int = 0
    scores: Sequence[int] | None = None

    def __post_init__(self) -> None:
        _choice(self.ranking, "adl ranking", RANKINGS)
        _choice(self.price, "adl price", ADL_PRICES)
        object.__setattr__(self, "seed", _int(self.seed, "adl seed", minimum=0))
        if self.scores is not None:
            if self.ranking != "scores":
                raise InvalidInputError(
                    f"adl scores are only used with ranking='scores' (ranking is {self.ranking!r})"
                )
            object.__setattr__(self, "scores", _int_list(self.scores, "adl scores"))
        elif self.ranking == "scores":
            raise InvalidInputError("adl ranking='scores' needs scores (one int per account)")

    def to_dict(self) -> dict[str, Any]:
        """The plain form: kind, ranking, price, seed and scores (a list or None)."""
        return {
            "kind": self.kind,
            "ranking": self.ranking,
            "price": self.price,
            "seed": self.seed,
            "scores": None if self.scores is None else list(self.scores),
        }


@dataclass(frozen=True)
class Socialize:
    """Stage: a socialized loss, haircut from other accounts with ``mutualize.allocate``.

    With ``timing="immediate"`` the deficit is allocated over every other account's claim
    at once (the bankrupt account's claim is 0) and each haircut is taken from that
    account's collateral. With ``timing="deferred"`` it is added to ``deferred_loss`` and
    clawed back from positive session profits at ``settle_session``.

    Attributes:
        rule: ``"pro_rata"``, ``"equal_loss"`` or ``"equal_award"`` (see ``allocate``).
        rounding: ``"exact"`` (largest remainder), ``"down"`` (the dust stays uncovered)
            or ``"up"`` (the surplus goes to the insurance fund); not exact: pro_rata only.
        base: what each account is haircut on, in minor units: ``"session_profit"``,
            ``"unrealized_pnl"`` (summed over markets), ``"equity"``, ``"open_interest"``
            (in proportion to position size in the bankrupt account's first market, capped
            by positive equity:
            Drift and Mango) or ``"weights"`` (the ``weights`` list, capped the same way).
        max_rate: the largest share of a claim that may be taken, ``[num, den]`` or a
            ``Fraction`` / ``Decimal`` / ``str`` between 0 and 1; stored as ``(num, den)``
            in lowest terms. Needs rounding ``"exact"`` and a rule other than equal_award.
        weights: one non-negative int per account id: the claims of ``base="weights"``
            (required by it, and refused with any other base). Accounts beyond its
            length have weight 0.
    """

    kind: ClassVar[str] = "socialize"
    rule: str = "pro_rata"
    rounding: str = "exact"
    base: str = "unrealized_pnl"
    max_rate: RateLike | None = None
    weights: Sequence[int] | None = None

    def __post_init__(self) -> None:
        _choice(self.rule, "socialize rule", RULES)
        _choice(self.rounding, "socialize rounding", ROUNDINGS)
        _choice(self.base, "socialize base", BASES)
        if self.rounding != "exact" and self.rule != "pro_rata":
            raise InvalidInputError(
                f"socialize rounding={self.rounding!r} is only defined for rule 'pro_rata'"
            )
        if self.max_rate is not None:
            if self.rounding != "exact":
                raise InvalidInputError(
                    f"socialize max_rate needs rounding='exact' (got {self.rounding!r})"
                )
            if self.rule == "equal_award":
                raise InvalidInputError("socialize rule 'equal_award' takes no max_rate")
            object.__setattr__(self, "max_rate", _rate(self.max_rate))
        if self.base in _CAPPED_BASES:
            # These bases cap each haircut at max(0, equity) through the kernel's caps.
            if self.rounding != "exact":
                raise InvalidInputError(
                    f"socialize base {self.base!r} caps haircuts at equity, which needs "
                    f"rounding='exact' (got {self.rounding!r})"
                )
            if self.rule == "equal_award":
                raise InvalidInputError(
                    f"socialize base {self.base!r} caps haircuts at equity, which rule "
                    "'equal_award' does not take"
                )
        if self.weights is not None:
            if self.base != "weights":
                raise InvalidInputError(
                    f"socialize weights are only used with base='weights' (base is {self.base!r})"
                )
            object.__setattr__(self, "weights", _int_list(self.weights, "weights", minimum=0))
        elif self.base == "weights":
            raise InvalidInputError("socialize base='weights' needs weights (one per account)")

    @property
    def rate(self) -> tuple[int, int] | None:
        """``max_rate`` as the normalized ``(num, den)`` pair, or ``None``."""
        value = self.max_rate
        if value is None:
            return None
        if not isinstance(value, tuple):  # pragma: no cover - normalized in __post_init__
            raise InvalidInputError(f"max_rate was not normalized: {value!r}")
        return int(value[0]), int(value[1])

    def to_dict(self) -> dict[str, Any]:
        """The plain form: kind, rule, rounding, base, max_rate (``[num, den]`` or
        None) and weights (a list or None)."""
        rate = self.rate
        return {
            "kind": self.kind,
            "rule": self.rule,
            "rounding": self.rounding,
            "base": self.base,
            "max_rate": None if rate is None else [rate[0], rate[1]],
            "weights": None if self.weights is None else list(self.weights),
        }


Stage = InsuranceFund | FeePool | Adl | Socialize

_STAGE_CLASSES: dict[str, type[InsuranceFund | FeePool | Adl | Socialize]] = {
    "insurance_fund": InsuranceFund,
    "fee_pool": FeePool,
    "adl": Adl,
    "socialize": Socialize,
}
_STAGE_KEYS: dict[str, tuple[str, ...]] = {
    "insurance_fund": ("cap", "floor", "per_market"),
    "fee_pool": (),
    "adl": ("ranking", "price", "seed", "scores"),
    "socialize": ("rule", "rounding", "base", "max_rate", "weights"),
}


def _stage_from_dict(value: object, where: str) -> Stage:
    if isinstance(value, InsuranceFund | FeePool | Adl | Socialize):
        return value
    if not isinstance(value, Mapping):
        raise InvalidInputError(f"{where} must be a stage or a dict, got {type(value).__name__}")
    kind = value.get("kind")
    if not isinstance(kind, str) or kind not in _STAGE_CLASSES:
        raise InvalidInputError(
            f"{where}: unknown stage kind {kind!r}; expected one of {', '.join(KINDS)}"
        )
    allowed = _STAGE_KEYS[kind]
    extra = sorted(str(key) for key in value if key != "kind" and key not in allowed)
    if extra:
        raise InvalidInputError(f"{where}: unknown keys for stage {kind!r}: {', '.join(extra)}")
    options = {key: value[key] for key in allowed if key in value}
    return _STAGE_CLASSES[kind](**options)


def _default_stages() -> tuple[Stage, ...]:
    return (InsuranceFund(), Socialize())


@dataclass(frozen=True)
class Waterfall:
    """The ordered loss waterfall of a ledger.

    Attributes:
        stages: the stages in the order they pay, at most one of each kind (a list or
            tuple of stage objects or of their plain dicts; stored as a tuple). The
            default is ``(InsuranceFund(), Socialize())``. What no stage pays is
            recorded as residual bad debt.
        timing: ``"immediate"`` (the socialize stage haircuts at each bankruptcy) or
            ``"deferred"`` (it accrues the deficit in ``deferred_loss``, clawed back from
            positive session profits at ``settle_session``: OKX weekly, Deribit per
            session) or ``"batched"`` (the backtest engine's per-step pooling: the
            socialize stage accrues into ``deferred_loss`` and ``settle_session``
            allocates the pool once over the stage's own base, rule, rounding, caps and
            max_rate, no account excluded, uncovered minor units moving to bad debt,
            without starting a new session; a ledger refuses it with base
            ``"open_interest"``; docs/backtests.md, "Batched timing").
        lock_session_profit: when true, ``withdraw`` keeps positive session profit in
            the account until the session settles (Deribit).
    """

    stages: Sequence[Stage] = field(default_factory=_default_stages)
    timing: str = "immediate"
    lock_session_profit: bool = False

    def __post_init__(self) -> None:
        raw = self.stages
        if isinstance(raw, str | bytes | Mapping) or not isinstance(raw, Sequence):
            raise InvalidInputError("waterfall stages must be a list of stages")
        stages = tuple(_stage_from_dict(stage, f"stage {i}") for i, stage in enumerate(raw))
        seen: set[str] = set()
        for stage in stages:
            if stage.kind in seen:
                raise InvalidInputError(f"waterfall has stage kind {stage.kind!r} twice")
            seen.add(stage.kind)
        object.__setattr__(self, "stages", stages)
        _choice(self.timing, "waterfall timing", TIMINGS)
        if self.timing == "batched" and any(
            isinstance(stage, Socialize) and stage.base == "open_interest" for stage in stages
        ):
            # A batch mixes bankruptcies of several markets: no market to share by.
            raise InvalidInputError("batched timing cannot socialize over base 'open_interest'")
        if not isinstance(self.lock_session_profit, bool):
            raise InvalidInputError(
                f"lock_session_profit must be a bool, got {self.lock_session_profit!r}"
            )

    def stage(self, kind: str) -> Stage | None:
        """The stage of that kind, or ``None``."""
        for stage in self.stages:
            if stage.kind == kind:
                return stage
        return None

    def to_dict(self) -> dict[str, Any]:
        """The plain form of docs/ledger.md: ``{"stages": [...], "timing": ...,
        "lock_session_profit": ...}``, every stage with all its keys."""
        return {
            "stages": [stage.to_dict() for stage in self.stages],
            "timing": self.timing,
            "lock_session_profit": self.lock_session_profit,
        }

    @classmethod
    def from_dict(cls, d: Mapping[str, Any] | Waterfall) -> Waterfall:
        """Read (and validate) the plain form. Missing keys take their defaults;
        unknown keys are an ``InvalidInputError``. A ``Waterfall`` is returned as is."""
        if isinstance(d, Waterfall):
            return d
        if not isinstance(d, Mapping):
            raise InvalidInputError(
                f"a waterfall must be a Waterfall or its plain dict, got {type(d).__name__}"
            )
        extra = sorted(
            str(key) for key in d if key not in ("stages", "timing", "lock_session_profit")
        )
        if extra:
            raise InvalidInputError(f"unknown waterfall keys: {', '.join(extra)}")
        stages = d.get("stages")
        return cls(
            stages=_default_stages() if stages is None else stages,
            timing=d.get("timing", "immediate"),
            lock_session_profit=d.get("lock_session_profit", False),
        )


# --------------------------------------------------------------------------- presets


def okx_clawback() -> Waterfall:
    """OKX (OKEx) futures clawback, as run until 2019.

    Source: OKEx futures "clawback" rules (2018 announcement): after the insurance fund,
    the remaining loss of a settlement period was clawed back from every profitable
    account at one rate, at the weekly settlement.

    Shape: ``InsuranceFund()`` then a *deferred* pro-rata ``Socialize`` (exact
    rounding): each deficit (minor units) accrues in ``deferred_loss`` and
    ``settle_session()`` haircuts positive session profit pro rata.

    Simplifications: a session is whatever the caller delimits with ``settle_session``
    (OKX: one week, per contract); OKX's base was realized plus unrealized profit of the
    week, modelled here as session profit (equity change net of deposits); one
    settlement asset and cross margin; profits are not locked during the week.
    """
    return Waterfall(
        stages=(InsuranceFund(), Socialize(rule="pro_rata", base="session_profit")),
        timing="deferred",
    )


def deribit_session() -> Waterfall:
    """Deribit's session socialized loss (its early years).

    Source: Deribit insurance-fund documentation and its 2017 daily-settlement notice:
    the insurance fund covers bankruptcies; once depleted, they are socialized among the
    winning traders as a share of session profit at settlement; session profits cannot
    be withdrawn before settlement.

    Shape: ``InsuranceFund()`` then a *deferred* pro-rata ``Socialize`` on session
    profit, with ``lock_session_profit=True`` (``withdraw`` keeps positive session
    profit in the account until ``settle_session``). Amounts in minor units.

    Simplifications: the session length (8 hours, earlier daily) is the caller's
    ``settle_session`` cadence; Deribit's incremental liquidation is a single
    ``liquidate`` here; one settlement asset, cross margin.
    """
    return Waterfall(
        stages=(InsuranceFund(), Socialize(rule="pro_rata", base="session_profit")),
        timing="deferred",
        lock_session_profit=True,
    )


def bitmex_adl() -> Waterfall:
    """BitMEX auto-deleveraging.

    Source: BitMEX documentation on the insurance fund and auto-deleveraging: when the
    insurance fund cannot absorb a liquidation, opposite positions are deleveraged in
    order of ``PnL% x effective leverage`` (divided by leverage when PnL is negative) at
    the bankrupt position's bankruptcy price.

    Shape: ``InsuranceFund()`` then ``Adl(ranking="pnl_leverage", price="bankruptcy")``,
    immediate. Prices in ticks, deficits in minor units.

    Simplifications: the ranking uses exact rationals over the ledger's cross-margined
    equity (BitMEX ranks per position with its own margin figures); the liquidation
    engine's order-book attempt before ADL is the caller's ``liquidate`` against a named
    counterparty (taken when the insurance fund covers the deficit).
    """
    return Waterfall(stages=(InsuranceFund(), Adl(ranking="pnl_leverage", price="bankruptcy")))


def binance_adl() -> Waterfall:
    """Binance futures auto-deleveraging (the same shape as BitMEX).

    Source: Binance futures documentation on the insurance fund and ADL: after the
    insurance fund, positions of opposite side are ranked by profit percentage times
    effective leverage (the ADL indicator) and closed at the bankruptcy price of the
    liquidated position.

    Shape: ``InsuranceFund()`` then ``Adl(ranking="pnl_leverage", price="bankruptcy")``,
    immediate; minor units and ticks throughout.

    Simplifications: Binance shows the ranking as a five-step quantile indicator; the
    ledger ranks by the exact score. Binance's ADL also applies to isolated positions,
    while the ledger is cross-margined.
    """
    return Waterfall(stages=(InsuranceFund(), Adl(ranking="pnl_leverage", price="bankruptcy")))


def hyperliquid_adl() -> Waterfall:
    """Hyperliquid: backstop liquidation, then auto-deleveraging.

    Source: Hyperliquid documentation (Liquidations; Auto-deleveraging): a position that
    the order book cannot absorb is backstop-liquidated by the liquidator vault (HLP);
    when an account's value becomes negative, opposite positions are ranked by
    ``(mark_price / entry_price) * (notional_position / account_value)`` and closed
    against the underwater user so the platform has no bad debt.

    Shape: ``InsuranceFund()`` then ``Adl(ranking="hyperliquid", price="bankruptcy")``,
    immediate; minor units and ticks.

    Simplifications: the backstop vault is the ``counterparty`` named in ``liquidate``
    together with the insurance-fund stage (the vault's capital absorbing the loss);
    Hyperliquid closes ADL'd positions at the *previous* mark price, which the ledger
    does not keep: it uses the bankruptcy price, which like Hyperliquid's rule leaves no
    bad debt.
    """
    return Waterfall(stages=(InsuranceFund(), Adl(ranking="hyperliquid", price="bankruptcy")))


def drift_socialize() -> Waterfall:
    """Drift v2: insurance fund, fee pool, then socialized over open interest.

    Source: drift-labs/protocol-v2 (``resolve_perp_bankruptcy``): a perp bankruptcy is
    paid by the insurance fund, then the market's fee pool, and the rest is socialized
    over every open position of the market through its cumulative funding rate, in
    proportion to size.

    Shape: ``InsuranceFund()``, ``FeePool()``, ``Socialize(base="open_interest")``,
    immediate: the deficit (minor units) is shared in proportion to each account's
    |position| (lots) in the bankrupt account's first market, each haircut capped by
    the account's positive equity.

    Simplifications: the haircut is taken from collateral at once instead of through the
    funding index (the amounts are the same); Drift's per-market fee pool and insurance
    sub-fund are the ledger's single pools; an account's haircut cannot exceed its
    positive equity (Drift's index can push an account below zero).
    """
    return Waterfall(stages=(InsuranceFund(), FeePool(), Socialize(base="open_interest")))


def dydx_deleverage() -> Waterfall:
    """dYdX v4 deleveraging.

    Source: dydxprotocol/v4-chain, the clob module's deleveraging: when the insurance
    fund cannot cover a liquidation, the position is closed against offsetting positions
    at the bankruptcy price, which must not take any counterparty below zero.

    Shape: ``InsuranceFund()`` then ``Adl(ranking="random", price="bankruptcy")``,
    immediate; minor units and ticks.

    Simplifications: dYdX v4 walks the offsetting subaccounts in a pseudo-random order
    derived from chain state; ``ranking="random"`` (the candidates in id order rotated
    by ``seed``) is a deterministic *stand-in* for it, not the same order. dYdX's
    per-subaccount isolation is the ledger's cross-margined account.
    """
    return Waterfall(stages=(InsuranceFund(), Adl(ranking="random", price="bankruptcy")))


def pro_rata() -> Waterfall:
    """The textbook socialized loss: insurance fund, then an immediate pro-rata haircut.

    Source: the pro-rata clawback shared by OKX/Huobi and Deribit (mechanism.md,
    section 6) and Chitra 2025's pro-rata haircut, applied at each bankruptcy.

    Shape: ``InsuranceFund()`` then ``Socialize(rule="pro_rata", rounding="exact",
    base="unrealized_pnl")``, immediate (the default ``Waterfall()``): the deficit
    (minor units) is split over positive unrealized PnL by largest remainder.

    Simplifications: no venue runs exactly this; it is the reference point the other
    presets are compared against.
    """
    return Waterfall(
        stages=(
            InsuranceFund(),
            Socialize(rule="pro_rata", rounding="exact", base="unrealized_pnl"),
        )
    )


PRESETS: dict[str, Callable[[], Waterfall]] = {
    "okx_clawback": okx_clawback,
    "deribit_session": deribit_session,
    "bitmex_adl": bitmex_adl,
    "binance_adl": binance_adl,
    "hyperliquid_adl": hyperliquid_adl,
    "drift_socialize": drift_socialize,
    "dydx_deleverage": dydx_deleverage,
    "pro_rata": pro_rata,
}
