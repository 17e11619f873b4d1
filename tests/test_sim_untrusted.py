"""Scenario files from strangers: every field bounded, every bad file a one-line error.

Each case failed before the schema bounded every field and the TOML reader checked a
file's size, nesting and dotted keys: deep nesting raised ``RecursionError``, a long
dotted key took minutes and gigabytes, ``count``/``steps`` of 1e9 were accepted (and
exhausted memory when built), ``tick_value`` beyond int64 raised ``OverflowError`` and
an integer of 5,000 digits a bare ``ValueError``. Now each is a
:class:`~mutualize.sim.ScenarioError` naming the field (or the line), found before
anything is allocated, and the command line prints it as one line and exits with 2.
"""

from __future__ import annotations

import contextlib
import time
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from mutualize.cli import main
from mutualize.sim import Scenario, ScenarioError, schema
from mutualize.sim.toml import MAX_BYTES
from tests.scenarios import TINY

CASES: list[tuple[str, str, str]] = [
    # (name, the file's text, what the error says)
    ("nested", TINY + "x = " + "[" * 5_000 + "]" * 5_000 + "\n", r"nested more than 32 levels"),
    (
        "nested_tables",
        TINY + "x = " + "{a = " * 100 + "1" + "}" * 100 + "\n",
        r"nested more than 32 levels",
    ),
    ("dotted", ".".join(["a"] * 100_000) + " = 1\n" + TINY, r"more than 4,096 dots"),
    ("dotted_line", ".".join(["a"] * 2_000) + " = 1\n" + TINY, r"line 1: more than 1024"),
    ("count", TINY.replace("count = 250", "count = 1_000_000_000"), r"population.count: "),
    ("count_float", TINY.replace("count = 250", "count = 1e9"), r"population.count: "),
    ("steps", TINY.replace("steps = 200", "steps = 1_000_000_000"), r"path.steps: "),
    ("tick_value", TINY.replace("tick_value = 10", "tick_value = 1" + "0" * 30), r"tick_value"),
    (
        "notional",
        TINY.replace("tick_value = 10", "tick_value = 4_611_686_018_427_387_904"),
        r"market\[0\].tick_value: start_price x tick_value",
    ),
    ("digits", TINY.replace("seed = 3", "seed = " + "9" * 5_000), r"a value cannot be read"),
    ("huge", TINY + "#" + "x" * MAX_BYTES + "\n", r"larger than"),
    ("binary", "\x00\x01\x02 = [", r"TOML syntax error"),
    (
        "markets",
        TINY + '[[market]]\nname = "M"\nstart_price = 1\n' * 1_001,
        r"market: expected at most 1,000",
    ),
    (
        "cells",
        TINY.replace("steps = 200", "steps = 9_000_000")
        + "".join(f'[[market]]\nname = "M{i}"\nstart_price = 1\n' for i in range(3)),
        r"path.steps: 9,000,000 steps x 4 markets",
    ),
    ("weights", TINY.replace("[population]", "[population]\nmarket_weights = [1e308]"), r"weights"),
    (
        "depth_lots",
        TINY + "[execution]\ndepth_lots = 99999999999999999999\n",
        r"execution.depth_lots: ",
    ),
    ("session", TINY.replace('"bitmex_adl"', '"bitmex_adl"\nsession_steps = 10**9'), r"syntax"),
    (
        "session_steps",
        TINY.replace('preset = "bitmex_adl"', 'preset = "bitmex_adl"\nsession_steps = 10000001'),
        r"policy\[1\].session_steps: ",
    ),
    ("crash_length", TINY.replace("crash_step = 80", "crash_length = 10000001"), r"crash_length"),
    ("interval", TINY + "[funding]\ninterval_steps = 10000001\n", r"funding.interval_steps: "),
    ("name", TINY.replace('name = "tiny"', 'name = "' + "n" * 1_001 + '"'), r"^[^:]*: name: "),
    (
        "stages",
        TINY.replace(
            'preset = "pro_rata"', "stages = [" + "{kind = 'insurance_fund'}," * 101 + "]"
        ),
        r"stages: expected at most 100",
    ),
    ("date", TINY.replace("seed = 3", "seed = 1979-05-27"), r"seed: expected an integer"),
]


@pytest.mark.parametrize(("name", "text", "message"), CASES, ids=[c[0] for c in CASES])
def test_bad_files_are_refused_before_anything_is_allocated(
    name: str, text: str, message: str
) -> None:
    started = time.perf_counter()
    with pytest.raises(ScenarioError, match=message):
        Scenario.from_toml_text(text, source="bad.toml")
    assert time.perf_counter() - started < 2.0, "refused quickly, without parsing it all"


@pytest.mark.parametrize(("name", "text", "message"), CASES, ids=[c[0] for c in CASES])
def test_the_command_line_prints_one_line_and_exits_2(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    path = tmp_path / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    out = tmp_path / "out"
    result = CliRunner().invoke(main, ["run", str(path), "--out", str(out), "--no-progress"])
    assert result.exit_code == 2, result.output
    assert isinstance(result.exception, SystemExit)
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: ")
    assert not out.exists()


def test_files_that_never_end_are_not_read_whole(tmp_path: Path) -> None:
    zero = Path("/dev/zero")
    if not zero.exists():  # pragma: no cover - not a POSIX system
        pytest.skip("no /dev/zero")
    with pytest.raises(ScenarioError, match="larger than"):
        Scenario.from_toml(zero)


def test_a_bad_data_file_is_one_line_naming_the_scenario(tmp_path: Path) -> None:
    prices = tmp_path / "prices.csv"
    prices.write_text('price\n1\n"2\n3,4,5\n', encoding="utf-8")
    scenario = TINY.replace('kind = "crash_rebound"\nsteps = 200\ncrash_step = 80\n', "")
    scenario = scenario.replace("[path]\n", '[path]\nkind = "file"\nfile = "prices.csv"\n')
    scenario = scenario.replace("start_price = 100_000\n", "")
    path = tmp_path / "s.toml"
    path.write_text(scenario, encoding="utf-8")
    result = CliRunner().invoke(main, ["compare", str(path), "--out", str(tmp_path / "o")])
    assert result.exit_code == 2, result.output
    lines = result.stderr.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"error: {path}: path.file: ")


def test_every_number_in_the_schema_is_bounded() -> None:
    for section in schema.SECTIONS:
        for field in section.fields:
            assert field.doc, (section.name, field.name)
            if field.kind in ("int", "number", "numbers"):
                assert field.lo is not None, (section.name, field.name)
                assert field.hi is not None, (section.name, field.name)
            if field.kind in ("tables", "numbers") and field.name != "stages":
                assert field.most is not None or field.section is not None, field.name
    assert schema.SCENARIO["market"].most == schema.MAX_MARKETS
    assert schema.SCENARIO["policy"].most == schema.MAX_POLICIES


# --- fuzzing: any edit of a good file is a scenario or a ScenarioError -------------------

_PIECES = [
    "[",
    "]",
    "{",
    "}",
    "=",
    '"',
    "'",
    "\n",
    ".",
    "#",
    "-1",
    "1e999",
    "99999999999999999999999",
    "0",
    "true",
    "[[policy]]\n",
    "[path]\n",
    "count = ",
    "nan",
    "inf",
    "\\",
    '"""',
]


@settings(
    max_examples=300,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow],
)
@given(
    edits=st.lists(
        st.tuples(
            st.integers(0, len(TINY)),
            st.integers(0, 12),
            st.one_of(st.sampled_from(_PIECES), st.text(max_size=4)),
        ),
        min_size=1,
        max_size=4,
    )
)
def test_edited_files_give_a_scenario_or_a_scenario_error(
    edits: list[tuple[int, int, str]],
) -> None:
    text = TINY
    for at, cut, piece in edits:
        at = min(at, len(text))
        text = text[:at] + piece + text[at + cut :]
    started = time.perf_counter()
    try:
        scenario = Scenario.from_toml_text(text, source="fuzz.toml")
    except ScenarioError:
        return
    finally:
        assert time.perf_counter() - started < 2.0
    if scenario.population.count * max(scenario.steps, 1) <= 10**7:
        with contextlib.suppress(ScenarioError):
            scenario.build()


def test_valid_bounds_still_work() -> None:
    # The largest accepted sizes are accepted (not built: that is what they bound).
    edited: dict[str, Any] = {
        "population.count": schema.MAX_ACCOUNTS,
        "path.steps": schema.MAX_STEPS,
        "path.crash_step": 100,
        "execution.depth_lots": 2**62,
        "policy.0.session_steps": schema.MAX_STEPS,
    }
    scenario = Scenario.from_toml_text(TINY).with_params(edited)
    assert scenario.population.count == schema.MAX_ACCOUNTS
    assert scenario.steps == schema.MAX_STEPS


def _between(text: str, name: str) -> str:
    start = text.index(f"<!-- {name}:begin -->\n") + len(f"<!-- {name}:begin -->\n")
    return text[start : text.index(f"<!-- {name}:end -->")]


def test_the_docs_tables_are_the_schemas() -> None:
    # Regenerate with `python -m mutualize.sim.schema` and `python -m mutualize._columns`.
    from mutualize import _columns

    docs = (Path(__file__).resolve().parents[1] / "docs" / "backtests.md").read_text("utf-8")
    assert _between(docs, "schema") == schema.markdown()
    assert _between(docs, "columns") == _columns.docs_markdown()
