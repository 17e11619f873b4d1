"""The command line: demo, run, compare, sweep, allocate and rules, end to end."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from click.testing import CliRunner

import mutualize.sim
from mutualize.cli import CliError, main, parse_param, parse_seeds
from tests.scenarios import TINY

REPORT_FILES = ("report.html", "insurance_fund.png", "haircuts.png")
COMMANDS = ("demo", "run", "compare", "sweep", "allocate", "rules")


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def tiny_file(tmp_path: Path) -> Path:
    path = tmp_path / "tiny.toml"
    path.write_text(TINY, encoding="utf-8")
    return path


def _env() -> dict[str, str]:
    return {**os.environ, "MUTUALIZE_NO_PROGRESS": "1"}


# --- demo --------------------------------------------------------------------------------


def test_python_dash_m_demo_prints_the_comparison_and_writes_the_report(tmp_path: Path) -> None:
    out = tmp_path / "report"
    proc = subprocess.run(
        [sys.executable, "-m", "mutualize", "demo", "--out", str(out), "--no-progress"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=_env(),
    )
    assert proc.returncode == 0, proc.stderr
    for label in ("okx_clawback", "bitmex_adl", "capped_pro_rata", "equal_award"):
        assert label in proc.stdout
    assert f"report: {out / 'report.html'}" in proc.stdout
    for name in REPORT_FILES:
        assert (out / name).stat().st_size > 0, name
    assert "Traceback" not in proc.stderr


# --- run and compare ---------------------------------------------------------------------


def test_run_prints_one_policy_and_writes_report_and_parquet(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "run"
    result = runner.invoke(
        main, ["run", str(tiny_file), "--out", str(out), "--parquet", "--no-progress"]
    )
    assert result.exit_code == 0, result.output
    assert "pro_rata" in result.output  # the scenario's first policy
    assert "bitmex_adl" not in result.output
    assert "report.html" in result.output
    for name in (*REPORT_FILES, "series.parquet", "accounts.parquet", "run.json"):
        assert (out / name).stat().st_size > 0, name
    accounts = pd.read_parquet(out / "accounts.parquet")
    assert len(accounts) == 250


def test_run_with_a_named_policy_and_seed(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "adl"
    args = ["run", str(tiny_file), "--policy", "bitmex_adl", "--seed", "9", "--out", str(out)]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "bitmex_adl" in result.output
    assert "seed 9" in result.output
    assert (out / "report.html").exists()


def test_compare_prints_every_policy_and_writes_the_report(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    result = runner.invoke(main, ["compare", str(tiny_file), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "pro_rata" in result.output
    assert "bitmex_adl" in result.output
    assert (out / "report.html").stat().st_size > 0
    table = pd.read_csv(out / "comparison.csv")
    assert table["policy"].tolist() == ["pro_rata", "bitmex_adl"]


def test_compare_takes_presets_the_scenario_does_not_name(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "cmp"
    args = ["compare", str(tiny_file), "--policy", "equal_award", "--policy", "pro_rata"]
    result = runner.invoke(main, [*args, "--out", str(out)])
    assert result.exit_code == 0, result.output
    table = pd.read_csv(out / "comparison.csv")
    assert table["policy"].tolist() == ["equal_award", "pro_rata"]


@pytest.mark.parametrize(
    ("edit", "key"),
    [
        (("count = 250", "cont = 250"), "population.cont"),  # an unknown key
        (("count = 250", 'count = "many"'), "population.count"),  # a wrong type
        (("steps = 200", "steps = -5"), "path.steps"),  # out of range
    ],
)
@pytest.mark.parametrize("command", ["run", "compare"])
def test_bad_scenario_file_names_the_key_and_writes_nothing(
    runner: CliRunner, tmp_path: Path, command: str, edit: tuple[str, str], key: str
) -> None:
    bad = tmp_path / "bad.toml"
    bad.write_text(TINY.replace(*edit), encoding="utf-8")
    out = tmp_path / "out"
    result = runner.invoke(main, [command, str(bad), "--out", str(out)])
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert key in result.stderr
    assert "bad.toml" in result.stderr
    assert "Traceback" not in result.output
    assert not out.exists()


def test_missing_file_unknown_policy_and_bad_out(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    missing = runner.invoke(main, ["compare", str(tmp_path / "nope.toml")])
    assert missing.exit_code == 2
    assert "not found" in missing.stderr
    unknown = runner.invoke(main, ["compare", str(tiny_file), "--policy", "nope"])
    assert unknown.exit_code == 2
    assert "unknown policy 'nope'" in unknown.stderr
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    for out in (a_file, a_file / "sub"):
        bad_out = runner.invoke(main, ["run", str(tiny_file), "--out", str(out)])
        assert bad_out.exit_code == 2
        assert "is not a folder" in bad_out.stderr


def test_ctrl_c_exits_130(
    runner: CliRunner, tiny_file: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def interrupted(*args: object, **kwargs: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(mutualize.sim, "compare", interrupted)
    result = runner.invoke(main, ["compare", str(tiny_file), "--out", str(tmp_path / "o")])
    assert result.exit_code == 130
    assert "interrupted" in result.stderr
    assert not (tmp_path / "o").exists()


# --- sweep -------------------------------------------------------------------------------


def test_sweep_prints_the_summary_and_writes_the_table(
    runner: CliRunner, tiny_file: Path, tmp_path: Path
) -> None:
    out = tmp_path / "sweep.csv"
    args = ["sweep", str(tiny_file), "--seeds", "1..2", "--param", "population.count=150,250"]
    args += ["--backend", "threads", "--workers", "2", "--out", str(out), "--no-progress"]
    result = runner.invoke(main, args)
    assert result.exit_code == 0, result.output
    assert "population.count" in result.stdout
    assert "total_mutualized" in result.stdout
    assert "4 tasks, 8 runs on threads" in result.stdout
    table = pd.read_csv(out)
    assert table["seed"].tolist() == [1] * 4 + [2] * 4
    assert table["population.count"].tolist() == [150, 150, 250, 250] * 2


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--seeds", "a..b", "--seeds"),
        ("--seeds", "5..1", "empty range"),
        ("--param", "population.cont=1,2", "population.cont"),
        ("--param", "population.count", "KEY=VALUE"),
        ("--out", "table.txt", ".parquet or .csv"),
    ],
)
def test_sweep_bad_options_exit_2(
    runner: CliRunner, tiny_file: Path, option: str, value: str, message: str
) -> None:
    args = ["sweep", str(tiny_file), "--seeds", "1", option, value, "--backend", "threads"]
    result = runner.invoke(main, args)
    assert result.exit_code == 2
    assert result.stderr.startswith("error: ")
    assert message in result.stderr


def test_sweep_without_the_backend_package_says_what_to_install(
    runner: CliRunner, tiny_file: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "ray", None)  # makes `import ray` fail
    result = runner.invoke(main, ["sweep", str(tiny_file), "--seeds", "1", "--backend", "ray"])
    assert result.exit_code == 1
    assert "pip install 'mutualize[ray]'" in result.stderr
    assert "Traceback" not in result.output


def test_parse_seeds() -> None:
    assert parse_seeds("7") == [7]
    assert parse_seeds("1,2,5") == [1, 2, 5]
    assert parse_seeds("1..4") == [1, 2, 3, 4]
    assert parse_seeds("1..3, 10") == [1, 2, 3, 10]
    for bad in ("", "x", "1..", "3..1", "1,1", "-2", "1.5", "0..99999999999"):
        with pytest.raises(CliError):
            parse_seeds(bad)


def test_parse_param() -> None:
    assert parse_param("population.count=1000,2_000") == ("population.count", [1000, 2000])
    assert parse_param("path.crash_depth=0.1, 0.2") == ("path.crash_depth", [0.1, 0.2])
    assert parse_param("path.kind=gbm,'jumps'") == ("path.kind", ["gbm", "jumps"])
    assert parse_param("x=true") == ("x", [True])
    for bad in ("x", "=1", "x=", "x=1,,2"):
        with pytest.raises(CliError):
            parse_param(bad)


# --- allocate, rules, help, pipes ----------------------------------------------------------


def test_allocate_command_json(runner: CliRunner) -> None:
    result = runner.invoke(main, ["allocate", "7", "10", "20", "30", "40", "--json"])
    assert result.exit_code == 0
    out = json.loads(result.stdout)
    assert out["haircuts"] == [1, 1, 2, 3]
    assert out["rate"] == "7/100"


def test_allocate_command_bad_input(runner: CliRunner) -> None:
    result = runner.invoke(main, ["allocate", "7", "10", "2.5"])
    assert result.exit_code == 2
    assert "whole number" in result.stderr


def test_allocate_command_options(runner: CliRunner) -> None:
    result = runner.invoke(main, ["allocate", "7", "10", "20", "30", "40", "--rounding", "down"])
    assert result.exit_code == 0
    assert "dust=2" in result.stdout
    # A negative claim is a claim (ineligible), not an option.
    negative = runner.invoke(main, ["allocate", "7", "10", "-3", "40", "--json"])
    assert negative.exit_code == 0, negative.output
    assert json.loads(negative.stdout)["haircuts"] == [1, 0, 6]


def test_rules_prints_the_worked_example(runner: CliRunner) -> None:
    result = runner.invoke(main, ["rules"])
    assert result.exit_code == 0
    for label in ("pro_rata", "equal_loss", "equal_award", "uncovered"):
        assert label in result.stdout
    # 8, 4 and 0.5 USD of profit pay 4.8, 2.4 and 0.3 under pro rata.
    assert "4.800000" in result.stdout
    assert "5.750000" in result.stdout  # equal_award cuts the biggest winner first


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_help_with_examples(runner: CliRunner, command: str) -> None:
    result = runner.invoke(main, [command, "--help"])
    assert result.exit_code == 0
    assert "Example" in result.stdout
    top = runner.invoke(main, ["--help"])
    assert command in top.stdout


def test_closed_pipe_is_not_an_error() -> None:
    proc = subprocess.Popen(
        [sys.executable, "-m", "mutualize", "rules"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=_env(),
    )
    assert proc.stdout is not None
    assert proc.stderr is not None
    proc.stdout.close()  # the reader leaves before the first line, like `| head -0`
    stderr = proc.stderr.read().decode()
    assert proc.wait(timeout=60) == 0
    assert "Traceback" not in stderr
    assert "Broken pipe" not in stderr
