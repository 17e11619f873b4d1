"""The HTML/PNG report and the progress bar, on synthetic runs (see test_sim_results)."""

from __future__ import annotations

import io
import re
import sys
import time
from pathlib import Path

import pandas as pd
import pytest
from matplotlib.figure import Figure

from mutualize.sim import metrics, progress, report
from mutualize.sim.results import Comparison, RunResult
from tests.test_sim_results import raw_run

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def three_policies() -> Comparison:
    """Pro rata, ADL (rates spread over orders of magnitude) and a policy that touched
    no one (a fund large enough for every deficit), on 2,000 steps."""
    return Comparison(
        {
            "pro_rata": RunResult.from_raw(raw_run(policy="pro_rata", steps=2_000, accounts=300)),
            "bitmex_adl": RunResult.from_raw(
                raw_run(policy="bitmex_adl", steps=2_000, accounts=300, adl=True, over=50)
            ),
            "big_fund": RunResult.from_raw(
                raw_run(policy="big_fund", steps=2_000, accounts=300, insurance_fund=10**12)
            ),
        }
    )


def test_report_files(three_policies: Comparison, tmp_path: Path) -> None:
    folder = tmp_path / "report"
    page = report.write_report(three_policies, folder)
    assert page == folder / "report.html"
    names = sorted(p.name for p in folder.iterdir())
    assert names == sorted([*(name for name, _ in report.PLOTS), "comparison.csv", "report.html"])
    for name, _caption in report.PLOTS:
        data = (folder / name).read_bytes()
        assert data.startswith(PNG_MAGIC), name
        assert len(data) > 1024, name

    text = page.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    for name, _caption in report.PLOTS:
        assert f'<img src="{name}"' in text
    assert "<title>mutualize: crash (seed 7)</title>" in text
    for label in three_policies:
        assert f"<th>{label}</th>" in text
    # The table shows each metric's formatted value and each metric is explained.
    over = three_policies["bitmex_adl"].metrics["total_mutualized"]
    assert f"{over:,}" in text
    for metric in metrics.METRICS:
        assert metric.description.replace("'", "&#x27;") in text
    # Self-contained: no external stylesheet, script or absolute link.
    assert not re.search(r"<script|<link|https?://", text)

    table = pd.read_csv(folder / "comparison.csv", index_col="policy")
    assert list(table.index) == list(three_policies)
    assert table.loc["bitmex_adl", "over_haircut"] == 50


def test_report_title_is_escaped_and_replaces_an_earlier_report(
    three_policies: Comparison, tmp_path: Path
) -> None:
    (tmp_path / "report.html").write_text("old")
    (tmp_path / "notes.txt").write_text("mine")
    page = report.write_report(three_policies, tmp_path, title="Crash <10 Oct> & co")
    text = page.read_text(encoding="utf-8")
    assert "<h1>Crash &lt;10 Oct&gt; &amp; co</h1>" in text
    assert "<10 Oct>" not in text
    assert (tmp_path / "notes.txt").read_text() == "mine"
    # No temporary file is left beside the report.
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def tiny_figure(comparison: Comparison) -> Figure:
    """A cheap stand-in plot, for tests about failures."""
    return Figure(figsize=(1.0, 1.0))


@pytest.fixture
def cheap_plots(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("_plot_insurance_fund", "_plot_haircuts", "_plot_socialized", "_plot_marks"):
        monkeypatch.setattr(report, name, tiny_figure)


@pytest.mark.usefixtures("cheap_plots")
def test_failed_report_leaves_nothing(
    three_policies: Comparison, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(comparison: Comparison) -> object:
        raise RuntimeError("plot failed")

    monkeypatch.setattr(report, "_plot_haircuts", broken)
    # A folder this call creates is removed again.
    fresh = tmp_path / "fresh"
    with pytest.raises(RuntimeError, match="plot failed"):
        report.write_report(three_policies, fresh)
    assert not fresh.exists()
    # In an existing folder, the earlier files stay as they were and nothing is added.
    kept = tmp_path / "kept"
    kept.mkdir()
    (kept / "report.html").write_text("old report")
    with pytest.raises(RuntimeError, match="plot failed"):
        report.write_report(three_policies, kept)
    assert [p.name for p in kept.iterdir()] == ["report.html"]
    assert (kept / "report.html").read_text() == "old report"


@pytest.mark.usefixtures("cheap_plots")
def test_failure_while_writing_html_leaves_no_png(
    three_policies: Comparison, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(comparison: Comparison, title: str) -> str:
        raise ValueError("html failed")

    monkeypatch.setattr(report, "_html", broken)
    with pytest.raises(ValueError, match="html failed"):
        report.write_report(three_policies, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_haircut_rates_of_touched_winners(three_policies: Comparison) -> None:
    adl = report.touched_winner_rates(three_policies["bitmex_adl"])
    accounts = three_policies["bitmex_adl"].accounts
    assert len(adl) == int(((accounts["adl_lots"] > 0) & (accounts["profit"] > 0)).sum()) > 0
    assert report.touched_winner_rates(three_policies["big_fund"]).size == 0


def test_haircut_plot_goes_log_when_rates_span_decades() -> None:
    raw = raw_run(accounts=40)
    accounts = raw["accounts"]
    profit = accounts["equity"] + accounts["haircut"] - accounts["collateral0"]
    winners = [int(i) for i in (profit > 10_000).nonzero()[0][:2]]
    accounts["haircut"][:] = 0
    accounts["haircut"][winners[0]] = profit[winners[0]] // 2
    accounts["haircut"][winners[1]] = max(1, int(profit[winners[1]]) // 100_000)
    accounts["equity"][:] = accounts["collateral0"] + profit - accounts["haircut"]
    spread = Comparison({"p": RunResult.from_raw(raw)})
    (axes,) = report._plot_haircuts(spread).axes
    assert axes.get_yscale() == "log"
    (axes,) = report._plot_haircuts(Comparison({"p": RunResult.from_raw(raw_run())})).axes
    assert axes.get_yscale() == "linear"


def test_report_rejects_a_non_comparison(tmp_path: Path) -> None:
    with pytest.raises(TypeError, match="Comparison"):
        report.write_report({"a": 1}, tmp_path)  # type: ignore[arg-type]


# --- progress bar ------------------------------------------------------------------------


def test_progress_disabled_writes_nothing(capsys: pytest.CaptureFixture[str]) -> None:
    with progress.progress_bar(100, enabled=False, desc="run") as bar:
        assert bar.enabled is False
        bar.update(60)
        time.sleep(0.05)
        bar.update(40)
    captured = capsys.readouterr()
    assert captured.err == ""
    assert captured.out == ""


def test_progress_off_when_stderr_is_not_a_terminal(capsys: pytest.CaptureFixture[str]) -> None:
    # Under capsys, stderr is not a TTY: enabled=None means off.
    with progress.progress_bar(10, enabled=None, desc="run") as bar:
        assert bar.enabled is False
        bar.update(10)
    assert capsys.readouterr().err == ""


def test_progress_on_by_default_on_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.delenv("MUTUALIZE_NO_PROGRESS", raising=False)
    monkeypatch.setattr(sys, "stderr", Terminal())
    assert progress.progress_enabled(None) is True
    assert progress.progress_enabled(False) is False


def test_progress_env_var_turns_it_off(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("MUTUALIZE_NO_PROGRESS", "1")
    assert progress.progress_enabled(True) is False
    with progress.progress_bar(10, enabled=True, desc="run") as bar:
        assert bar.enabled is False
        bar.update(10)
    assert capsys.readouterr().err == ""
    monkeypatch.setenv("MUTUALIZE_NO_PROGRESS", "0")
    assert progress.progress_enabled(True) is True


def test_progress_enabled_is_silent_for_short_runs(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MUTUALIZE_NO_PROGRESS", raising=False)
    with progress.progress_bar(10, enabled=True, desc="quick") as bar:
        assert bar.enabled is True
        bar.update(10)
    assert capsys.readouterr().err == ""


def test_progress_enabled_shows_after_a_second(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("MUTUALIZE_NO_PROGRESS", raising=False)
    with progress.progress_bar(10, enabled=True, desc="slow run") as bar:
        bar.update(1)
        time.sleep(1.1)
        bar.update(1)
    assert "slow run" in capsys.readouterr().err


def test_progress_rejects_bad_total() -> None:
    with pytest.raises(ValueError, match="total"):
        progress.progress_bar(-1, enabled=False, desc="x")
