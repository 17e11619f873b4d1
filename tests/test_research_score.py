"""``mutualize score``: the scorecard on the real per-wave file, checked independently.

The independent check reads the shipped CSV with the ``csv`` module and plain
``decimal`` arithmetic (no mutualize code), computes every policy's tracking error,
fairness and total, rounds them half-even to the cent and compares with the command's
output. It also checks figures the analysis printed itself (its report's "total
overshoot" column, which is our net tracking).
"""

from __future__ import annotations

import csv
import decimal
import json
import os
import subprocess
import sys
from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from pathlib import Path

import pytest
from click.testing import CliRunner
from hypothesis import given, settings
from hypothesis import strategies as st

from mutualize.cli import main
from mutualize.research import datasets, read_per_wave, score, score_file

REAL = datasets.DATA / "oss-adl" / "policy_per_wave_metrics.csv"
POLICIES = ["prod", "pr", "pnl_pr", "eq_pr", "vector", "contract_pr", "fixed_point_ilp_integer"]


def independent_scores(path: Path, reference: str, lam: Decimal) -> dict[str, dict[str, str]]:
    """Tracking, net, positive, fairness and total per policy, to the cent, with only the
    csv and decimal modules. 200 significant digits hold every sum and product exactly.
    A total that rounds to zero prints as 0.00 (no negative zero)."""
    context = decimal.Context(prec=200)
    with path.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    cent = Decimal("0.01")
    out: dict[str, dict[str, str]] = {}
    for p in POLICIES:
        t = net = pos = f = Decimal(0)
        for row in rows:
            b = Decimal(row["budget_needed"])
            h = Decimal(row[f"budget_{p}"])
            d = context.subtract(h, b)
            t = context.add(t, abs(d))
            net = context.add(net, d)
            pos = context.add(pos, max(d, Decimal(0)))
            gap = abs(
                context.subtract(Decimal(row[f"max_pct_{p}"]), Decimal(row[f"max_pct_{reference}"]))
            )
            f = context.add(f, context.multiply(b, gap))
        total = context.add(t, context.multiply(lam, f))
        out[p] = {
            name: str(abs(q) if (q := value.quantize(cent, ROUND_HALF_EVEN, context)) == 0 else q)
            for name, value in (
                ("tracking", t),
                ("tracking_net", net),
                ("tracking_positive", pos),
                ("fairness", f),
                ("total", total),
            )
        }
    return out


def run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mutualize", *args],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "MUTUALIZE_NO_PROGRESS": "1"},
    )


@pytest.mark.parametrize(
    ("reference", "lam"),
    [("fixed_point_ilp_integer", "1"), ("pr", "0.5"), ("prod", "0"), ("eq_pr", "2.25")],
)
def test_real_file_matches_an_independent_decimal_computation(reference: str, lam: str) -> None:
    expected = independent_scores(REAL, reference, Decimal(lam))
    args = ["score", "@hyperliquid-2025-10-10", "--reference", reference, "--lambda", lam]
    proc = run(*args, "--format", "csv")
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    assert lines[0] == "policy,tracking,fairness,total"
    got = {row["policy"]: row for row in csv.DictReader(lines)}
    assert list(got) == POLICIES
    for p in POLICIES:
        assert got[p] == {
            "policy": p,
            **{k: expected[p][k] for k in ("tracking", "fairness", "total")},
        }
    body = json.loads(run(*args, "--format", "json").stdout)
    assert body["reference"] == reference
    assert body["waves"] == 16
    for entry in body["policies"]:
        assert {k: v for k, v in entry.items() if k != "policy"} == expected[entry["policy"]]


def test_real_file_default_scorecard() -> None:
    """The table users see first; the figures are the independent ones above."""
    proc = run("score", "@hyperliquid-2025-10-10")
    assert proc.returncode == 0
    lines = proc.stdout.splitlines()
    assert lines[0] == (
        "@hyperliquid-2025-10-10: 16 waves, reference fixed_point_ilp_integer, lambda 1 "
        "(USD, to the cent)"
    )
    rows = {line.split()[0]: line.split()[1:] for line in lines[3:10]}
    assert rows["prod"] == [
        "53,782,490.53",
        "45,028,665.72",
        "49,405,578.12",
        "11,077,031.68",
        "64,859,522.21",
    ]
    assert rows["fixed_point_ilp_integer"][3] == "0.00"  # no fairness gap to itself
    assert "contract_pr: pro rata in whole contracts per coin" in proc.stdout


def test_net_tracking_matches_the_analysis_report() -> None:
    """The analysis's report prints each policy's total overshoot vs needed (the sum of
    H - B): production $45,028,665.72, vector -$1,793,022.03, fixed-point ILP $92,186.99,
    pro-rata $0.00 (out/ADL-Corrections-Full-Report.md of autodeleveraging-analysis)."""
    card = score_file(REAL)
    printed = {
        "prod": "45028665.72",
        "vector": "-1793022.03",
        "fixed_point_ilp_integer": "92186.99",
        "pr": "0.00",
    }
    for p, text in printed.items():
        net = card.scores[p].tracking_net
        assert round(net * 100) == int(Decimal(text) * 100)
    # net and positive part are not the tracking error: for the queue they differ by millions
    prod = card.scores["prod"]
    assert prod.tracking - prod.tracking_net > 8_000_000
    assert prod.tracking_positive - prod.tracking_net > 4_000_000


def test_overshoot_columns_agree_with_the_budgets() -> None:
    """The score recomputes H - B from the budgets; the file's overshoot columns (float
    differences) agree with it to a millionth of a dollar."""
    with REAL.open(newline="") as handle:
        for row in csv.DictReader(handle):
            for p in POLICIES:
                computed = Decimal(row[f"budget_{p}"]) - Decimal(row["budget_needed"])
                assert abs(computed - Decimal(row[f"overshoot_{p}"])) < Decimal("1e-6")


def test_two_pass_file_agrees_with_the_per_wave_file() -> None:
    """The analysis's two files describe the same 16 waves: the same budgets needed (to
    float noise: 9400.221401000004 against ...003 in wave 17) and production haircuts (to
    a millionth of a dollar)."""
    two_pass = datasets.DATA / "oss-adl" / "two_pass_equity_delta_by_wave.csv"
    with REAL.open(newline="") as a, two_pass.open(newline="") as b:
        per_wave = list(csv.DictReader(a))
        passes = list(csv.DictReader(b))
    assert [r["wave"] for r in per_wave] == [r["wave"] for r in passes]
    for x, y in zip(per_wave, passes, strict=True):
        assert abs(Decimal(x["budget_needed"]) - Decimal(y["budget_needed_usd"])) < Decimal("1e-9")
        assert abs(Decimal(x["budget_prod"]) - Decimal(y["budget_prod_usd"])) < Decimal("1e-6")


def test_lambda_forms_and_reference() -> None:
    table = read_per_wave(REAL)
    half = score(table, "pr", Fraction(1, 2))
    assert score_file(REAL, "pr", "0.5").scores == half.scores
    assert score_file(REAL, "pr", "1/2").scores == half.scores
    zero = score(table, lam=0)
    assert all(s.total == s.tracking for s in zero.scores.values())


@settings(max_examples=40, deadline=None)
@given(st.permutations(list(range(16))))
def test_scores_do_not_depend_on_the_order_of_the_waves(
    tmp_path_factory: pytest.TempPathFactory, order: list[int]
) -> None:
    lines = REAL.read_text().splitlines()
    shuffled = tmp_path_factory.mktemp("perm") / "waves.csv"
    shuffled.write_text("\n".join([lines[0], *(lines[1 + i] for i in order)]) + "\n")
    assert score_file(shuffled).scores == score_file(REAL).scores


# --------------------------------------------------------------------------- bad input


def write(tmp_path: Path, text: str, name: str = "w.csv") -> str:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return str(path)


GOOD = "wave,budget_needed,budget_a,max_pct_a,budget_b,max_pct_b\n1,10,12,0.5,10,0.25\n"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["missing.csv"], "per-wave file not found: missing.csv"),
        (["@nope"], "unknown data set '@nope'"),
        (["GOOD", "--reference", "zzz"], "--reference 'zzz' is not a policy"),
        (["GOOD"], "no default reference policy"),
        (["GOOD", "--reference", "a", "--lambda", "-1"], "--lambda must be >= 0"),
        (["GOOD", "--reference", "a", "--lambda", "x"], "--lambda: expected a number"),
        (["wave,budget_a,max_pct_a\n1,2,0\n"], "no 'budget_needed' column"),
        (["wave,budget_needed,budget_a\n1,2,0\n"], "no policy columns"),
        (["wave,budget_needed,budget_a,max_pct_a\n1,2,x,0\n"], "budget_a: 'x' is not a number"),
        (["wave,budget_needed,budget_a,max_pct_a\n1,2,1,\n"], "max_pct_a: empty"),
        (["wave,budget_needed,budget_a,max_pct_a\n1,2,1,1.5\n"], "outside [0, 1]"),
        (["wave,budget_needed,budget_a,max_pct_a\n1,-2,1,0\n"], "budget_needed is negative"),
        (["wave,budget_needed,budget_a,max_pct_a\n1,2,1,nan\n"], "not a finite number"),
        (["wave,budget_needed,budget_a,max_pct_a\n"], "no waves"),
        ([""], "empty file"),
        (["wave,budget_needed,budget_a,max_pct_a,wave\n1,2,1,0,1\n"], "appears twice"),
    ],
)
def test_user_errors_exit_2_with_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    argv = []
    for a in args:
        if a == "GOOD":
            argv.append(write(tmp_path, GOOD))
        elif "\n" in a or a == "":
            argv.append(write(tmp_path, a))
        else:
            argv.append(a)
    result = CliRunner().invoke(main, ["score", *argv])
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert lines[0].startswith("error: ")
    assert message in lines[0]
    assert "Traceback" not in result.output


def test_binary_file_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "blob.csv"
    path.write_bytes(b"\xff\xfe\x00\x01" * 100)
    result = CliRunner().invoke(main, ["score", str(path)])
    assert result.exit_code == 2
    assert "not UTF-8 text" in result.stderr


def test_help_has_examples() -> None:
    result = CliRunner().invoke(main, ["score", "--help"])
    assert result.exit_code == 0
    assert "Examples:" in result.stdout
    assert "score" in CliRunner().invoke(main, ["--help"]).stdout
