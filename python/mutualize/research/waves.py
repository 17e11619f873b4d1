"""Replay per-account ADL rows through every policy, exactly (``mutualize replay``).

Input: a CSV with one row per account, coin and time in the layout of the HyperReplay
data set (``user, coin, time, position_size, total_unrealized_pnl, total_equity``; other
columns are ignored). ``time`` is integer milliseconds; amounts are USD decimals.
HyperReplay data are not shipped: obtain them under their own license.

1. **Waves.** Rows are sorted by time; a new wave starts when the time gap to the
   previous row exceeds ``gap_ms`` (0 by default: a wave is the rows of one timestamp).
   Waves are numbered 1, 2, ... in time order.
2. **Accounts.** In a wave, an account's equity and PnL are the largest it reports
   (as the analysis does), in integer micro-USD rounded *down* (the venue never counts
   on money that is not there); its position in a coin is the largest ``|size|``
   reported, in whole contracts (rounded down). Winners have PnL > 0 and equity > 0;
   their capacity is ``min(PnL, equity)``. Losers have equity < 0; the wave's deficit is
   the sum of their negative equity.
3. **Budgets.** Without a gaps file, a wave's budget is its deficit. With one (the
   analysis's ``two_pass_wave_coin_gap_per_contract.csv`` layout: ``wave``, ``coin``,
   ``gap_usd_x_qty``, ``gap_per_contract_usd``, and ``t_start_ms`` when present), each
   coin's budget is its ``gap_usd_x_qty`` rounded *up* to the micro-USD, its contract
   value ``gap_per_contract_usd`` rounded *down*, and the wave's budget is their sum. A
   gaps row belongs to the wave whose time span holds its ``t_start_ms`` (else to the
   wave of its number); every wave needs at least one row.
4. **Policies** (``mutualize.research.policies``) run through ``mutualize.allocate``.
5. **Output**: ``policy_per_wave_metrics.csv`` in the layout ``mutualize score`` reads
   (money as exact six-decimal USD; rates half-even at 12 decimals), plus, per policy,
   the accounts hit (``hit_<p>``) and the Gini of the haircut/equity rates
   (``gini_<p>``, computed on the rates at 128-bit resolution: within ``n / 2**127`` of
   the exact value, far below the 12 decimals printed).

The two-pass counterfactual (:func:`counterfactual`) is documented there.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import numpy as np

from mutualize import metrics
from mutualize._coerce import Int64Array
from mutualize.errors import AmountOverflowError, InvalidInputError, MutualizeError
from mutualize.research._money import (
    MICRO,
    parse_decimal,
    rate_text,
    to_micro_ceil,
    to_micro_floor,
    usd_text,
)
from mutualize.research.datasets import resolve
from mutualize.research.policies import REPLAY_POLICIES, CoinBudget, Policy, Winners
from mutualize.sim.progress import progress_bar

__all__ = [
    "ACCOUNT_COLUMNS",
    "AccountRow",
    "Counterfactual",
    "Replay",
    "Wave",
    "WaveBook",
    "counterfactual",
    "group_waves",
    "read_accounts",
    "read_gaps",
    "replay",
    "wave_books",
]

#: The columns the replay reads from an accounts file.
ACCOUNT_COLUMNS = (
    "user",
    "coin",
    "time",
    "position_size",
    "total_unrealized_pnl",
    "total_equity",
)
GAP_COLUMNS = ("wave", "coin", "gap_usd_x_qty", "gap_per_contract_usd")
_EPOCH = datetime(1970, 1, 1, tzinfo=timezone.utc)


@dataclass(frozen=True)
class AccountRow:
    """One row of an accounts file: ``pnl`` and ``equity`` in integer micro-USD rounded
    down (what an account holds), ``size`` the exact signed position in contracts."""

    user: str
    coin: str
    time: int
    size: Decimal
    pnl: int
    equity: int


@dataclass(frozen=True)
class Wave:
    """The rows of one wave, in time order; ``number`` counts from 1."""

    number: int
    t_start: int
    t_end: int
    rows: list[AccountRow]


def _csv_rows(path: Path, label: str, required: Sequence[str]) -> Iterator[dict[str, str]]:
    try:
        with path.open(newline="", encoding="utf-8") as handle:
            reader = csv.DictReader(handle)
            header = reader.fieldnames or []
            missing = [c for c in required if c not in header]
            if missing:
                raise InvalidInputError(
                    f"{label}: missing column(s) {', '.join(missing)} "
                    f"(expected {', '.join(required)})"
                )
            yield from reader
    except UnicodeDecodeError:
        raise InvalidInputError(f"{label}: not UTF-8 text (a CSV file was expected)") from None
    except csv.Error as exc:
        raise InvalidInputError(f"{label}: not a readable CSV file ({exc})") from None


# Times are milliseconds since 1970 before the year 10000 (they are printed as dates).
_TIME_LIMIT = 253_402_300_800_000
_INT64_MAX = 2**63 - 1


def _fits(value: int, where: str, what: str) -> int:
    """``value`` if it fits in int64, else an ``AmountOverflowError`` naming it."""
    if not -_INT64_MAX - 1 <= value <= _INT64_MAX:
        raise AmountOverflowError(f"{where}: {what} {value} does not fit in int64")
    return value


def _cell(row: dict[str, str], name: str, where: str) -> str:
    text = row.get(name)
    if text is None:
        raise InvalidInputError(f"{where}: the row is shorter than the header")
    return text


def read_accounts(path: str | Path, label: str | None = None) -> list[AccountRow]:
    """Read an accounts file (module docs); ``path`` may be ``"@NAME"`` (a shipped data
    set), ``label`` names it in messages (default: ``path`` as given).

    Raises:
        InvalidInputError: a missing column, an empty user or coin, a time that is not a
            whole number of milliseconds since 1970, an amount that is not a number, no
            rows.
        AmountOverflowError: an amount beyond int64 micro-USD (about 9.2 trillion USD), a
            position beyond int64 contracts.
        OSError: the file cannot be opened.
    """
    name = label if label is not None else str(path)
    path = resolve(path)
    rows: list[AccountRow] = []
    for number, row in enumerate(_csv_rows(path, name, ACCOUNT_COLUMNS), start=2):
        where = f"{name}, line {number}"
        user = _cell(row, "user", where).strip()
        coin = _cell(row, "coin", where).strip()
        if not user or not coin:
            raise InvalidInputError(f"{where}: empty user or coin")
        time = parse_decimal(_cell(row, "time", where), f"{where}, time")
        if time != time.to_integral_value():
            raise InvalidInputError(f"{where}: time {time} is not whole milliseconds")
        if not 0 <= time < _TIME_LIMIT:
            raise InvalidInputError(
                f"{where}: time {time} is not milliseconds since 1970 (before year 10000)"
            )
        size = parse_decimal(_cell(row, "position_size", where), f"{where}, position_size")
        _fits(int(abs(size)), where, "position_size (whole contracts)")
        pnl = parse_decimal(
            _cell(row, "total_unrealized_pnl", where), f"{where}, total_unrealized_pnl"
        )
        equity = parse_decimal(_cell(row, "total_equity", where), f"{where}, total_equity")
        rows.append(
            AccountRow(
                user=user,
                coin=coin,
                time=int(time),
                size=size,
                pnl=_fits(to_micro_floor(pnl), where, "total_unrealized_pnl (micro-USD)"),
                equity=_fits(to_micro_floor(equity), where, "total_equity (micro-USD)"),
            )
        )
    if not rows:
        raise InvalidInputError(f"{name}: no rows")
    return rows


def group_waves(rows: Sequence[AccountRow], gap_ms: int = 0) -> list[Wave]:
    """Rows grouped into waves: sorted by time (stable), a new wave after a gap of more
    than ``gap_ms`` milliseconds."""
    if gap_ms < 0:
        raise InvalidInputError(f"--gap-ms must be >= 0, got {gap_ms}")
    ordered = sorted(rows, key=lambda r: r.time)
    waves: list[Wave] = []
    current: list[AccountRow] = []
    for row in ordered:
        if current and row.time - current[-1].time > gap_ms:
            waves.append(Wave(len(waves) + 1, current[0].time, current[-1].time, current))
            current = []
        current.append(row)
    if current:
        waves.append(Wave(len(waves) + 1, current[0].time, current[-1].time, current))
    return waves


def read_gaps(
    path: str | Path, waves: Sequence[Wave], label: str | None = None
) -> dict[int, dict[str, CoinBudget]]:
    """Per-wave, per-coin budgets and contract values from a gaps file (module docs),
    keyed by the replay's wave number.

    Raises:
        InvalidInputError: a missing column, a bad number, a negative amount, a row that
            matches no wave, a coin given two contract values in one wave, or a wave
            without any row.
    """
    name = label if label is not None else str(path)
    path = resolve(path)
    by_number = {w.number: w for w in waves}
    budgets: dict[int, dict[str, CoinBudget]] = {}
    for number, row in enumerate(_csv_rows(path, name, GAP_COLUMNS), start=2):
        where = f"{name}, line {number}"
        coin = _cell(row, "coin", where).strip()
        if "t_start_ms" in row:
            start = parse_decimal(_cell(row, "t_start_ms", where), f"{where}, t_start_ms")
            matches = [w for w in waves if w.t_start <= start <= w.t_end]
            if not matches:
                raise InvalidInputError(
                    f"{where}: no replay wave holds t_start_ms = {start}; group the accounts "
                    "as the gaps file does (--gap-ms)"
                )
            wave = matches[0]
        else:
            label_text = _cell(row, "wave", where).strip()
            if not label_text.isdigit() or int(label_text) not in by_number:
                raise InvalidInputError(f"{where}: wave {label_text!r} is not a replay wave")
            wave = by_number[int(label_text)]
        budget = parse_decimal(_cell(row, "gap_usd_x_qty", where), f"{where}, gap_usd_x_qty")
        unit = parse_decimal(
            _cell(row, "gap_per_contract_usd", where), f"{where}, gap_per_contract_usd"
        )
        if budget < 0 or unit < 0:
            raise InvalidInputError(f"{where}: negative budget or contract value")
        coins = budgets.setdefault(wave.number, {})
        part = CoinBudget(
            budget=_fits(to_micro_ceil(budget), where, "gap_usd_x_qty (micro-USD)"),
            unit=_fits(to_micro_floor(unit), where, "gap_per_contract_usd (micro-USD)"),
        )
        if coin in coins:
            if coins[coin].unit != part.unit:
                raise InvalidInputError(
                    f"{where}: {coin} has two contract values in wave {wave.number}"
                )
            part = CoinBudget(coins[coin].budget + part.budget, part.unit)
        coins[coin] = part
    missing = [w.number for w in waves if w.number not in budgets]
    if missing:
        raise InvalidInputError(
            f"{name}: no budget for wave(s) {', '.join(map(str, missing[:10]))}"
            f"{' ...' if len(missing) > 10 else ''}; with a gaps file every wave needs one "
            "(group the accounts as the gaps file does with --gap-ms)"
        )
    return budgets


@dataclass(frozen=True)
class WaveBook:
    """One wave, ready for the policies: its winners and budget (micro-USD)."""

    wave: Wave
    accounts: int
    winners: Winners
    deficit: int
    budget: int
    coins: dict[str, CoinBudget] | None = None


@dataclass(frozen=True)
class _Accounts:
    """A wave's rows per account: largest equity and PnL (micro-USD) and the largest
    ``|size|`` per coin, in whole contracts."""

    equity: dict[str, int]
    pnl: dict[str, int]
    contracts: dict[tuple[str, str], int]


def _accounts(wave: Wave) -> _Accounts:
    equity: dict[str, int] = {}
    pnl: dict[str, int] = {}
    sizes: dict[tuple[str, str], Decimal] = {}
    for row in wave.rows:
        if row.user not in equity or row.equity > equity[row.user]:
            equity[row.user] = row.equity
        if row.user not in pnl or row.pnl > pnl[row.user]:
            pnl[row.user] = row.pnl
        key = (row.user, row.coin)
        size = abs(row.size)
        if key not in sizes or size > sizes[key]:
            sizes[key] = size
    # whole contracts, rounded down
    return _Accounts(equity, pnl, {key: int(size) for key, size in sizes.items()})


def _book(
    wave: Wave,
    accounts: _Accounts,
    coins: dict[str, CoinBudget] | None,
    taken: dict[str, int],
) -> WaveBook:
    """The wave's winners and budget; ``taken`` holds haircuts already taken from each
    user (the ADL-on pass of the counterfactual), subtracted from its equity and PnL."""
    deficit = 0
    users: list[str] = []
    u_list: list[int] = []
    e_list: list[int] = []
    for user in sorted(accounts.equity):
        e = accounts.equity[user] - taken.get(user, 0)
        u = accounts.pnl[user] - taken.get(user, 0)
        if e < 0:
            deficit -= e
        elif e > 0 and u > 0:
            users.append(user)
            e_list.append(e)
            u_list.append(u)
    index = {user: j for j, user in enumerate(users)}
    per_coin: dict[str, tuple[list[int], list[int]]] = {}
    for (user, coin), whole in sorted(accounts.contracts.items()):
        if user in index and whole > 0:
            positions, counts = per_coin.setdefault(coin, ([], []))
            positions.append(index[user])
            counts.append(whole)
    pnl_array = np.array(u_list, dtype=np.int64)
    equity_array = np.array(e_list, dtype=np.int64)
    winners = Winners(
        users=users,
        pnl=pnl_array,
        equity=equity_array,
        capacity=np.minimum(pnl_array, equity_array),
        contracts={
            coin: (np.array(p, dtype=np.int64), np.array(c, dtype=np.int64))
            for coin, (p, c) in per_coin.items()
        },
    )
    budget = deficit if coins is None else sum(part.budget for part in coins.values())
    return WaveBook(wave, len(accounts.equity), winners, deficit, budget, coins)


def wave_books(
    waves: Sequence[Wave], gaps: dict[int, dict[str, CoinBudget]] | None = None
) -> list[WaveBook]:
    """Every wave's accounts and budget, as observed (no haircut carried over)."""
    return [_book(w, _accounts(w), None if gaps is None else gaps[w.number], {}) for w in waves]


@dataclass
class Replay:
    """Every policy's haircuts in every wave (micro-USD, aligned with the winners)."""

    books: list[WaveBook]
    policies: list[str]
    haircuts: dict[str, list[Int64Array]] = field(default_factory=dict)

    def to_csv(self) -> str:
        """The per-wave file (module docs) as text."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        ps = self.policies
        header = [
            "wave",
            "t_start",
            "t_end",
            "t_start_ms",
            "t_end_ms",
            "accounts",
            "winners",
            "deficit_usd",
            "total_cap",
            "budget_needed",
            *(f"budget_{p}" for p in ps),
            *(f"overshoot_{p}" for p in ps),
            *(f"max_pct_{p}" for p in ps),
            *(f"hit_{p}" for p in ps),
            *(f"gini_{p}" for p in ps),
        ]
        writer.writerow(header)
        for t, book in enumerate(self.books):
            w = book.winners
            cuts = [self.haircuts[p][t] for p in ps]
            totals = [int(h.sum(dtype=object)) for h in cuts]
            writer.writerow(
                [
                    book.wave.number,
                    _timestamp(book.wave.t_start),
                    _timestamp(book.wave.t_end),
                    book.wave.t_start,
                    book.wave.t_end,
                    book.accounts,
                    len(w.users),
                    usd_text(book.deficit),
                    usd_text(int(w.capacity.sum(dtype=object))),
                    usd_text(book.budget),
                    *(usd_text(x) for x in totals),
                    *(usd_text(x - book.budget) for x in totals),
                    *(rate_text(metrics.max_burden(h.tolist(), w.equity.tolist())) for h in cuts),
                    *(metrics.accounts_hit(h.tolist()) for h in cuts),
                    *(
                        rate_text(
                            metrics.rate_gini(h.tolist(), w.equity.tolist(), resolution_bits=128)
                        )
                        for h in cuts
                    ),
                ]
            )
        return out.getvalue()

    def totals(self, policy: str) -> list[int]:
        """``H_t`` of one policy per wave (micro-USD)."""
        return [int(h.sum(dtype=object)) for h in self.haircuts[policy]]


@contextmanager
def _in_wave(wave: Wave, policy: Policy) -> Iterator[None]:
    """Name the wave and the policy in an error from the allocation (the same class)."""
    try:
        yield
    except MutualizeError as exc:
        raise type(exc)(f"wave {wave.number}, policy {policy.name}: {exc}") from None


def _timestamp(ms: int) -> str:
    return str(_EPOCH + timedelta(milliseconds=ms))


def _policies(names: Sequence[str] | None, with_coins: bool) -> list[Policy]:
    if not names:
        return [p for p in REPLAY_POLICIES.values() if with_coins or not p.needs_coins]
    picked: list[Policy] = []
    for name in names:
        if name not in REPLAY_POLICIES:
            raise InvalidInputError(
                f"--policy: unknown policy {name!r}; known: {', '.join(REPLAY_POLICIES)}"
            )
        policy = REPLAY_POLICIES[name]
        if policy.needs_coins and not with_coins:
            raise InvalidInputError(
                f"--policy {name} needs per-coin budgets and contract values: pass --gaps"
            )
        if policy in picked:
            raise InvalidInputError(f"--policy: {name} is named twice")
        picked.append(policy)
    return picked


def replay(
    waves: Sequence[Wave],
    policies: Sequence[str] | None = None,
    gaps: dict[int, dict[str, CoinBudget]] | None = None,
    *,
    progress: bool | None = None,
) -> Replay:
    """Run each policy (default: all that the inputs allow) over every wave as observed.

    Raises:
        InvalidInputError: an unknown policy, a policy needing ``gaps`` without them.
    """
    chosen = _policies(policies, gaps is not None)
    books = wave_books(waves, gaps)
    result = Replay(books, [p.name for p in chosen])
    with progress_bar(
        len(books) * len(chosen), enabled=progress, desc="replay", unit="wave"
    ) as bar:
        for policy in chosen:
            memory: dict[str, Fraction] = {}
            cuts = []
            for book in books:
                with _in_wave(book.wave, policy):
                    cuts.append(policy.allocate(book.winners, book.budget, book.coins, memory))
                bar.update()
            result.haircuts[policy.name] = cuts
    return result


@dataclass
class Counterfactual:
    """Both passes of :func:`counterfactual`, per wave (micro-USD).

    Attributes:
        waves: the waves.
        budgets: each wave's budget as observed.
        fund_paid, bad_debt: the ADL-off pass: what the insurance fund paid, what stayed
            unpaid.
        haircuts: ``policy -> H_t`` in the ADL-on pass.
        equity_delta: ``policy -> sum over the wave's winners of (equity without ADL -
            equity with ADL)`` at the end of the wave.
    """

    waves: list[Wave]
    budgets: list[int]
    fund_paid: list[int]
    bad_debt: list[int]
    haircuts: dict[str, list[int]] = field(default_factory=dict)
    equity_delta: dict[str, list[int]] = field(default_factory=dict)

    def to_csv(self) -> str:
        """One row per wave: ``wave, t_start, t_end, budget_needed, fund_paid, bad_debt,
        budget_<p>..., equity_delta_<p>...`` (exact six-decimal USD)."""
        out = io.StringIO()
        writer = csv.writer(out, lineterminator="\n")
        ps = list(self.haircuts)
        writer.writerow(
            [
                "wave",
                "t_start",
                "t_end",
                "budget_needed",
                "fund_paid",
                "bad_debt",
                *(f"budget_{p}" for p in ps),
                *(f"equity_delta_{p}" for p in ps),
            ]
        )
        for t, wave in enumerate(self.waves):
            writer.writerow(
                [
                    wave.number,
                    _timestamp(wave.t_start),
                    _timestamp(wave.t_end),
                    usd_text(self.budgets[t]),
                    usd_text(self.fund_paid[t]),
                    usd_text(self.bad_debt[t]),
                    *(usd_text(self.haircuts[p][t]) for p in ps),
                    *(usd_text(self.equity_delta[p][t]) for p in ps),
                ]
            )
        return out.getvalue()


def counterfactual(
    waves: Sequence[Wave],
    policies: Sequence[str] | None = None,
    gaps: dict[int, dict[str, CoinBudget]] | None = None,
    insurance_fund: int = 0,
) -> Counterfactual:
    """Run every wave twice, with ADL on and off, and compare the winners' equity.

    Assumptions (stated, not observed):

    - The wave partition is the same in both passes.
    - **ADL on**: in each wave the policy takes its haircuts from the winners' equity and
      PnL (a wealth-space transfer; positions stay open), and what it took stays taken:
      an account's later equity and PnL are its observed ones minus every haircut taken
      from it so far, so a winner hit early has less capacity later.
    - **ADL off**: nothing is taken from winners; each wave's budget is paid by the
      insurance fund (``insurance_fund`` micro-USD at the start, never refilled) while it
      lasts, and the rest is bad debt.
    - Price moves after a wave reach both passes alike (no position is closed), so the
      winners' equity difference at a wave's end is what was taken from them so far:
      ``sum over the wave's winners of (e_off - e_on)``. The observed rows are taken as
      the state without this policy's ADL (rows recorded after a venue's own ADL already
      include it).

    Raises:
        InvalidInputError: as :func:`replay`; a negative insurance fund.
    """
    if insurance_fund < 0:
        raise InvalidInputError(f"--insurance-fund must be >= 0, got {insurance_fund}")
    chosen = _policies(policies, gaps is not None)
    observed = wave_books(waves, gaps)
    result = Counterfactual(list(waves), [b.budget for b in observed], [], [])
    fund = insurance_fund
    for book in observed:
        paid = min(fund, book.budget)
        fund -= paid
        result.fund_paid.append(paid)
        result.bad_debt.append(book.budget - paid)
    grouped = [_accounts(w) for w in waves]
    for policy in chosen:
        taken: dict[str, int] = {}
        memory: dict[str, Fraction] = {}
        totals: list[int] = []
        deltas: list[int] = []
        for wave, accounts, seen in zip(waves, grouped, observed, strict=True):
            book = _book(wave, accounts, None if gaps is None else gaps[wave.number], taken)
            # The ADL-on pass keeps the observed budget: the need does not shrink
            # because winners were hit before.
            with _in_wave(wave, policy):
                h = policy.allocate(book.winners, seen.budget, book.coins, memory)
            for user, cut in zip(book.winners.users, h.tolist(), strict=True):
                taken[user] = taken.get(user, 0) + cut
            totals.append(int(h.sum(dtype=object)))
            deltas.append(sum(taken.get(u, 0) for u in seen.winners.users))
        result.haircuts[policy.name] = totals
        result.equity_delta[policy.name] = deltas
    return result


def usd(micro: int) -> Fraction:
    """Micro-USD as an exact USD ``Fraction``."""
    return Fraction(micro, MICRO)
