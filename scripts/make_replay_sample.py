"""Write the synthetic ADL sample that mutualize ships for its docs and tests.

    python scripts/make_replay_sample.py [OUT_DIR]

OUT_DIR defaults to python/mutualize/research/data/sample. Two files, in the layouts the
replay reads:

- ``accounts.csv``: per-account rows of 5 ADL waves in the HyperReplay layout
  (``user, coin, time, position_size, total_unrealized_pnl, total_equity``; time in
  milliseconds). Each wave hits 50 to 80 winners (1 to 3 coins each; account-level PnL
  and equity repeated on every coin row, as HyperReplay does) and 3 to 6 bankrupt losers
  (negative equity) out of 320 accounts, except wave 4, which hits 8 to 12 winners with
  a large budget and deep losers, so that their capacity binds; a wave's rows sit on 1
  to 3 timestamps less than 3 seconds apart, so ``--gap-ms 0`` splits a wave that
  ``--gap-ms 5000`` keeps whole.
  About one winner in eight has less equity than PnL (it lost cash elsewhere), so the
  caps ``min(PnL, equity)`` bind.
- ``coin_gaps.csv``: per wave and coin, in the layout of the analysis's
  ``two_pass_wave_coin_gap_per_contract.csv``: the gap per contract (100 to 500 bps of
  the coin's price; 2,000 to 5,000 in wave 4) and the contracts deleveraged (20 to 60%
  of what the wave's winners hold; 60 to 100% in wave 4), whose product is the coin's
  budget.

Nothing comes from real data: prices are round figures, every other number is drawn
from numpy's PCG64 with seed 20251010, in integers only (micro-USD and lots), so the
files are the same bytes on every machine; tests/test_research_replay.py checks that the
shipped copies are what this script writes.
"""

from __future__ import annotations

import csv
import sys
from pathlib import Path

import numpy as np

SEED = 20251010
T0 = 1_760_130_964_831  # ms; the first ADL wave of 10 October 2025 started then
WAVE_STARTS = [0, 51_525, 69_301, 138_855, 240_117]  # ms after T0
ACCOUNTS = 320
THIN_WAVE = 4
MICRO = 10**6
# coin, price in micro-USD, size decimals (lots of 10**-decimals contracts)
COINS = [
    ("BTC", 110_000 * MICRO, 5),
    ("ETH", 3_800 * MICRO, 4),
    ("SOL", 185 * MICRO, 2),
    ("HYPE", 38 * MICRO, 2),
    ("DOGE", 190_000, 0),
]
DEFAULT_OUT = Path(__file__).resolve().parents[1] / "python/mutualize/research/data/sample"


def usd(micro: int) -> str:
    """Micro-USD as six-decimal USD text."""
    sign = "-" if micro < 0 else ""
    whole, frac = divmod(abs(micro), MICRO)
    return f"{sign}{whole}.{frac:06d}"


def lots_text(lots: int, decimals: int) -> str:
    """A signed number of lots as contracts with ``decimals`` places."""
    if decimals == 0:
        return str(lots)
    sign = "-" if lots < 0 else ""
    whole, frac = divmod(abs(lots), 10**decimals)
    return f"{sign}{whole}.{frac:0{decimals}d}"


def main(out: Path) -> None:
    rng = np.random.default_rng(SEED)
    users = [
        "0x" + "".join(f"{int(rng.integers(0, 2**32)):08x}" for _ in range(5))
        for _ in range(ACCOUNTS)
    ]
    rows: list[list[str]] = []
    gaps: list[list[str]] = []
    for wave, start in enumerate(WAVE_STARTS, start=1):
        stamps = sorted({T0 + start + int(d) for d in rng.integers(0, 2_900, rng.integers(1, 4))})
        stamps[0] = T0 + start
        order = rng.permutation(ACCOUNTS)
        thin = wave == THIN_WAVE  # few winners facing a large budget: capacity binds
        n_win = int(rng.integers(8, 13)) if thin else int(rng.integers(50, 81))
        n_lose = int(rng.integers(3, 7))
        held: dict[str, int] = {}  # lots held by the winners, per coin
        for k in order[:n_win].tolist():
            coins = rng.choice(len(COINS), size=int(rng.integers(1, 4)), replace=False)
            positions = []
            upnl = 0
            notional_sum = 0
            for c in sorted(coins.tolist()):
                name, price, decimals = COINS[c]
                notional = int(10 ** int(rng.integers(9, 13))) * int(rng.integers(1, 10))
                lots = max(1, notional * 10**decimals // price)
                side = 1 if rng.integers(0, 2) else -1
                notional = lots * price // 10**decimals
                upnl += notional * int(rng.integers(200, 2_500)) // 10_000  # a 2-25% gain
                notional_sum += notional
                positions.append((name, side * lots, decimals))
                held[name] = held.get(name, 0) + lots
            # cash: usually 5-60% of the notional; one in eight lost it elsewhere
            cash = notional_sum * int(rng.integers(500, 6_000)) // 10_000
            if rng.integers(0, 8) == 0:
                cash = -(upnl * int(rng.integers(10, 90)) // 100)
            equity = cash + upnl
            time = int(rng.choice(stamps))
            for name, signed_lots, decimals in positions:
                rows.append(
                    [
                        users[k],
                        name,
                        str(time),
                        lots_text(signed_lots, decimals),
                        usd(upnl),
                        usd(equity),
                    ]
                )
        for k in order[n_win : n_win + n_lose].tolist():
            c = int(rng.integers(0, len(COINS)))
            name, price, decimals = COINS[c]
            notional = int(10 ** int(rng.integers(10, 13))) * int(rng.integers(1, 10))
            lots = max(1, notional * 10**decimals // price)
            high = 6_000 if thin else 1_500  # the thin wave's losers are deep under water
            deficit = notional * int(rng.integers(50, high)) // 10_000
            upnl = -(notional * int(rng.integers(1_000, 3_000)) // 10_000)
            rows.append(
                [
                    users[k],
                    name,
                    str(int(rng.choice(stamps))),
                    lots_text(-lots, decimals),
                    usd(upnl),
                    usd(-deficit),
                ]
            )
        for name, price, decimals in COINS:
            if name not in held:
                continue
            bps = rng.integers(2_000, 5_001) if thin else rng.integers(100, 501)
            share = rng.integers(60, 101) if thin else rng.integers(20, 61)
            gap = price * int(bps) // 10_000  # micro-USD per contract
            qty = held[name] * int(share) // 100  # lots
            if qty == 0 or gap == 0:
                continue
            # gap (6 places) x qty (decimals places), exactly
            product = gap * qty
            places = 6 + decimals
            whole, frac = divmod(product, 10**places)
            gaps.append(
                [
                    str(wave),
                    str(stamps[0]),
                    str(stamps[-1]),
                    name,
                    f"{whole}.{frac:0{places}d}",
                    lots_text(qty, decimals),
                    usd(gap),
                ]
            )
    rows.sort(key=lambda r: (int(r[2]), r[0], r[1]))
    out.mkdir(parents=True, exist_ok=True)
    with (out / "accounts.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            ["user", "coin", "time", "position_size", "total_unrealized_pnl", "total_equity"]
        )
        writer.writerows(rows)
    with (out / "coin_gaps.csv").open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(
            [
                "wave",
                "t_start_ms",
                "t_end_ms",
                "coin",
                "gap_usd_x_qty",
                "qty_contracts",
                "gap_per_contract_usd",
            ]
        )
        writer.writerows(gaps)


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_OUT)
