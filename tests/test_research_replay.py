"""``mutualize replay``: waves, policies (hand-computed), the per-wave file ``score`` reads,
the two-pass counterfactual, the shipped synthetic sample, and bad input."""

from __future__ import annotations

import csv
import subprocess
import sys
from decimal import Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner

from mutualize.cli import main
from mutualize.errors import InvalidInputError
from mutualize.research import (
    counterfactual,
    datasets,
    group_waves,
    read_accounts,
    read_gaps,
    replay,
    score_file,
)
from mutualize.research.waves import AccountRow

ROOT = Path(__file__).resolve().parents[1]
SAMPLE = datasets.DATA / "sample"
M = 10**6  # micro-USD per USD

HEADER = "user,coin,time,position_size,total_unrealized_pnl,total_equity\n"
# One wave at t = 1000: winners A (cap 30), B (equity 40 < PnL 60: cap 40), C (cap 10);
# loser L at equity -20, so the budget (the deficit) is 20 USD.
HAND = HEADER + (
    "A,ETH,1000,3.7,30,100\nB,ETH,1000,-2,60,40\nC,ETH,1000,0.5,10,200\nL,BTC,1000,-1,-50,-20\n"
)


def write(tmp_path: Path, text: str, name: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def by_user(result: object, policy: str, wave: int = 0) -> dict[str, int]:
    book = result.books[wave]  # type: ignore[attr-defined]
    cuts = result.haircuts[policy][wave].tolist()  # type: ignore[attr-defined]
    return dict(zip(book.winners.users, cuts, strict=True))


def test_every_policy_by_hand(tmp_path: Path) -> None:
    """Each policy's haircuts on the hand-made wave, worked out in the comments."""
    waves = group_waves(read_accounts(write(tmp_path, HAND, "hand.csv")))
    result = replay(waves)
    book = result.books[0]
    assert book.budget == book.deficit == 20 * M
    assert book.winners.users == ["A", "B", "C"]
    assert book.winners.capacity.tolist() == [30 * M, 40 * M, 10 * M]
    expected = {
        # 20 in proportion to the capacities 30:40:10
        "pr": [7_500_000, 10_000_000, 2_500_000],
        # 20 in proportion to PnL 30:60:10, no cap binds
        "pnl_pr": [6 * M, 12 * M, 2 * M],
        # 20 in proportion to equity 100:40:200; floors 5,882,352 / 2,352,941 / 11,764,705
        # and the 2 units left go to the largest remainders (A .94, C .88)
        "equity_pr": [5_882_353, 2_352_941, 11_764_706],
        # shares PnL, ceilings equity (none binds): as pnl_pr
        "capped_pr": [6 * M, 12 * M, 2 * M],
        # 20/3 each; the 2 units left to the smallest positions (A, B)
        "equal_loss": [6_666_667, 6_666_667, 6_666_666],
        # one rate on equity: C saturates at 10 (rate 1/20); A and B share 10 at 1/14
        "minmax": [7_142_857, 2_857_143, 10 * M],
        # rate-space projection from 0: min(cap, tau cap^2), tau = 20 / (900+1600+100)
        "mirror": [6_923_077, 12_307_692, 769_231],
    }
    for policy, cuts in expected.items():
        assert by_user(result, policy) == dict(zip("ABC", cuts, strict=True)), policy
    rows = list(csv.DictReader(result.to_csv().splitlines()))
    assert rows[0]["budget_minmax"] == "20.000000"
    assert rows[0]["max_pct_minmax"] == "0.071428575000"  # B: 2,857,143 / 40,000,000
    assert rows[0]["hit_pr"] == "3"
    assert rows[0]["deficit_usd"] == "20.000000"


def test_contract_pro_rata_in_whole_contracts(tmp_path: Path) -> None:
    """ETH gap 4 USD per contract, budget 10: A holds 3 whole contracts (3.7), B 2, C 0
    (0.5). ceil(10/4) = 3 contracts pro rata 12:8 -> 1.8 and 1.2 -> A 2, B 1 (largest
    remainder): losses 8 and 4, within the capacities; H = 12, 2 over the budget."""
    waves = group_waves(read_accounts(write(tmp_path, HAND, "hand.csv")))
    gaps = read_gaps(
        write(
            tmp_path,
            "wave,t_start_ms,coin,gap_usd_x_qty,gap_per_contract_usd\n1,1000,ETH,10,4\n",
            "gaps.csv",
        ),
        waves,
    )
    result = replay(waves, ["contract_pr", "minmax"], gaps)
    assert result.books[0].budget == 10 * M  # with gaps, the budget is their sum
    assert by_user(result, "contract_pr") == {"A": 8 * M, "B": 4 * M, "C": 0}
    assert sum(by_user(result, "minmax").values()) == 10 * M


def test_waves_by_timestamp_and_by_gap(tmp_path: Path) -> None:
    text = HEADER + "".join(
        f"u{i},BTC,{t},1,1,2\n" for i, t in enumerate([5000, 1000, 1000, 1400, 9000, 9001])
    )
    rows = read_accounts(write(tmp_path, text, "t.csv"))
    assert [(w.t_start, w.t_end, len(w.rows)) for w in group_waves(rows)] == [
        (1000, 1000, 2),
        (1400, 1400, 1),
        (5000, 5000, 1),
        (9000, 9000, 1),
        (9001, 9001, 1),
    ]
    assert [(w.number, w.t_start, w.t_end) for w in group_waves(rows, 400)] == [
        (1, 1000, 1400),
        (2, 5000, 5000),
        (3, 9000, 9001),
    ]
    with pytest.raises(InvalidInputError):
        group_waves(rows, -1)


def test_replayed_file_is_what_score_reads(tmp_path: Path) -> None:
    """The sample, replayed with its per-coin budgets: every wave raises min(B, capacity)
    under the policies capped at capacity, min(B, equity) under those capped at equity."""
    out = tmp_path / "out"
    result = CliRunner().invoke(
        main,
        [
            "replay",
            "@sample-accounts",
            "--gap-ms",
            "5000",
            "--gaps",
            "@sample-gaps",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    per_wave = out / "policy_per_wave_metrics.csv"
    rows = list(csv.DictReader(per_wave.open(newline="")))
    assert len(rows) == 5
    for row in rows:
        budget = Decimal(row["budget_needed"])
        capacity = Decimal(row["total_cap"])
        for p in ("pr", "pnl_pr", "equal_loss", "minmax", "mirror"):
            assert Decimal(row[f"budget_{p}"]) == min(budget, capacity)
            assert Decimal(row[f"overshoot_{p}"]) == Decimal(row[f"budget_{p}"]) - budget
        assert Decimal(row["budget_contract_pr"]) <= capacity
    assert any(Decimal(r["budget_needed"]) > Decimal(r["total_cap"]) for r in rows)
    card = score_file(per_wave)
    assert card.reference == "minmax"
    assert set(card.scores) == {
        "pr",
        "pnl_pr",
        "equity_pr",
        "capped_pr",
        "equal_loss",
        "minmax",
        "contract_pr",
        "mirror",
    }
    assert card.scores["minmax"].fairness == 0


def test_minmax_has_the_smallest_largest_rate() -> None:
    """In every wave of the sample, no policy capped at capacity that raises the same
    total has a smaller largest haircut/equity rate than minmax (up to the one micro-USD
    its rounding may add: 1 / equity)."""
    waves = group_waves(read_accounts(SAMPLE / "accounts.csv"), 5000)
    gaps = read_gaps(SAMPLE / "coin_gaps.csv", waves)
    result = replay(waves, None, gaps)
    for t, book in enumerate(result.books):
        equity = book.winners.equity.tolist()
        slack = Fraction(1, min(equity))
        rates = {
            p: max(
                Fraction(h, e) for h, e in zip(result.haircuts[p][t].tolist(), equity, strict=True)
            )
            for p in result.policies
        }
        totals = {p: result.totals(p)[t] for p in result.policies}
        for p in ("pr", "pnl_pr", "equal_loss", "mirror", "contract_pr"):
            if totals[p] == totals["minmax"]:
                assert rates["minmax"] <= rates[p] + slack, (t, p)


def test_counterfactual_passes() -> None:
    """ADL off: the fund pays while it lasts, the rest is bad debt. ADL on: haircuts carried
    over shrink later capacity, so the two-pass totals never exceed the one-pass ones for
    the capacity-capped policies, and the winners' equity difference is what was taken."""
    waves = group_waves(read_accounts(SAMPLE / "accounts.csv"), 5000)
    gaps = read_gaps(SAMPLE / "coin_gaps.csv", waves)
    fund = 3_000_000 * M
    twice = counterfactual(waves, None, gaps, insurance_fund=fund)
    once = replay(waves, None, gaps)
    assert sum(twice.fund_paid) == min(fund, sum(twice.budgets))
    for paid, debt, budget in zip(twice.fund_paid, twice.bad_debt, twice.budgets, strict=True):
        assert paid + debt == budget
    for p in ("pr", "pnl_pr", "minmax", "equal_loss", "mirror"):
        assert all(a <= b for a, b in zip(twice.haircuts[p], once.totals(p), strict=True)), p
        assert twice.equity_delta[p][0] == twice.haircuts[p][0]  # nothing carried yet
        assert all(
            d <= sum(twice.haircuts[p][: t + 1]) for t, d in enumerate(twice.equity_delta[p])
        )
    assert sum(twice.haircuts["minmax"]) < sum(once.totals("minmax"))  # capacity binds
    rows = list(csv.DictReader(twice.to_csv().splitlines()))
    assert list(rows[0])[:6] == [
        "wave",
        "t_start",
        "t_end",
        "budget_needed",
        "fund_paid",
        "bad_debt",
    ]


def test_counterfactual_command(tmp_path: Path) -> None:
    out = tmp_path / "cf"
    result = CliRunner().invoke(
        main,
        [
            "replay",
            "@sample-accounts",
            "--gap-ms",
            "5000",
            "--gaps",
            "@sample-gaps",
            "--policy",
            "minmax",
            "--policy",
            "pr",
            "--counterfactual",
            "--insurance-fund",
            "1000000",
            "--out",
            str(out),
            "--no-progress",
        ],
    )
    assert result.exit_code == 0, result.output
    assert (out / "counterfactual_by_wave.csv").is_file()
    assert "without ADL: the fund pays 1,000,000.00" in result.stdout
    assert "policies: minmax, pr" in result.stdout


def test_real_gaps_layout_is_read() -> None:
    """The analysis's own per-coin file parses (728 rows over 16 waves) against waves
    placed at its start times."""
    path = datasets.DATA / "oss-adl" / "two_pass_wave_coin_gap_per_contract.csv"
    starts = sorted({int(r["t_start_ms"]) for r in csv.DictReader(path.open(newline=""))})
    rows = [AccountRow("u", "BTC", t, Decimal(1), 1, 2) for t in starts]
    waves = group_waves(rows)
    gaps = read_gaps(path, waves)
    assert len(gaps) == 16
    wave_one = gaps[1]
    assert wave_one["AVAX"].budget == 4_222_732_501  # 4222.73250000006 USD, rounded up
    assert wave_one["AVAX"].unit == 50_000  # 0.05000000000000072 USD rounded down
    assert sum(p.budget for p in wave_one.values()) >= 2_266_239_820_241  # B_needed of wave 1


def test_sample_is_what_the_script_writes(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "make_replay_sample.py"), str(tmp_path)],
        check=True,
    )
    for name in ("accounts.csv", "coin_gaps.csv"):
        assert (tmp_path / name).read_bytes() == (SAMPLE / name).read_bytes(), name
    accounts = read_accounts(SAMPLE / "accounts.csv")
    assert 200 <= len({r.user for r in accounts}) <= 320
    assert len(group_waves(accounts, 5000)) == 5


# --------------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "accounts file not found"),
        (["HAND", "--policy", "nope"], "unknown policy 'nope'"),
        (["HAND", "--policy", "contract_pr"], "needs per-coin budgets"),
        (["HAND", "--policy", "pr", "--policy", "pr"], "named twice"),
        (["HAND", "--gaps", "missing.csv"], "gaps file not found"),
        (["HAND", "--gaps", "GAPS_LATE"], "no replay wave holds t_start_ms"),
        (["HAND", "--counterfactual", "--insurance-fund", "-5"], "must be >= 0"),
        (["HAND", "--counterfactual", "--insurance-fund", "lots"], "is not a number"),
        (["BAD_TIME"], "is not whole milliseconds"),
        (["BAD_AMOUNT"], "total_equity: 'abc' is not a number"),
        (["NO_COLUMN"], "missing column(s) total_equity"),
        (["HAND", "--out", "FILE"], "exists and is not a folder"),
        (["HUGE_PNL"], "total_unrealized_pnl (micro-USD) 1000000000000000000000000000000000000"),
        (["HUGE_TIME"], "is not milliseconds since 1970"),
        (["HUGE_DEFICIT"], "wave 1, policy pr: loss = 18000000000000000000 does not fit"),
        (["HAND", "--gaps", "HUGE_GAP"], "gap_usd_x_qty (micro-USD)"),
    ],
)
def test_user_errors_exit_2_and_write_nothing(
    tmp_path: Path, args: list[str], message: str
) -> None:
    files = {
        "HAND": write(tmp_path, HAND, "hand.csv"),
        "GAPS_LATE": write(
            tmp_path,
            "wave,t_start_ms,coin,gap_usd_x_qty,gap_per_contract_usd\n1,7,ETH,1,1\n",
            "late.csv",
        ),
        "BAD_TIME": write(tmp_path, HEADER + "A,ETH,10.5,1,1,1\n", "t.csv"),
        "BAD_AMOUNT": write(tmp_path, HEADER + "A,ETH,10,1,1,abc\n", "a.csv"),
        "NO_COLUMN": write(
            tmp_path, "user,coin,time,position_size,total_unrealized_pnl\n", "c.csv"
        ),
        "FILE": write(tmp_path, "x", "a-file"),
        "HUGE_PNL": write(tmp_path, HEADER + "W,BTC,5,2,1e30,1e30\n", "h1.csv"),
        "HUGE_TIME": write(tmp_path, HEADER + "W,BTC,1e400,2,1,1\n", "h2.csv"),
        "HUGE_DEFICIT": write(
            tmp_path,
            HEADER + "L,BTC,5,1,-5,-9000000000000\nM,BTC,5,1,-5,-9000000000000\nW,BTC,5,2,10,10\n",
            "h3.csv",
        ),
        "HUGE_GAP": write(
            tmp_path, "wave,coin,gap_usd_x_qty,gap_per_contract_usd\n1,ETH,1e20,1\n", "h4.csv"
        ),
    }
    out = tmp_path / "out"
    argv = [str(files.get(a, a)) for a in args]
    if "--out" not in argv:
        argv += ["--out", str(out)]
    result = CliRunner().invoke(main, ["replay", *argv, "--no-progress"])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert not out.exists()


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["replay", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
