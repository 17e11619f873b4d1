"""``pip install mutualize`` installs numpy only: the core works with it alone, and the
rest says which extra to install.

Each check runs in a fresh interpreter in which the optional packages cannot be
imported (a meta-path finder refuses them), as on a machine with the core only.
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover - Python 3.10
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

PYPROJECT = Path(__file__).resolve().parents[1] / "pyproject.toml"

_BLOCK = """
import sys
BLOCKED = ("pandas", "pyarrow", "matplotlib", "click", "tqdm", "dask", "distributed", "ray")

class Block:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in BLOCKED:
            raise ImportError(f"No module named {name!r} (blocked for this test)")

sys.meta_path.insert(0, Block())
"""

_SMALL = "{'population.count': 150, 'path.steps': 150, 'path.crash_step': 50}"


def _run(code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "MUTUALIZE_NO_PROGRESS": ""}
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + textwrap.dedent(code), *args],
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        env=env,
    )


def test_the_core_dependencies_are_numpy_only() -> None:
    project = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))["project"]
    names = {
        dep.split(";")[0].split(">")[0].split("[")[0].strip() for dep in project["dependencies"]
    }
    assert names == {"numpy", "tomli"}  # tomli only below Python 3.11
    extras = project["optional-dependencies"]
    for extra in ("sim", "report", "cli", "dask", "ray", "all", "dev", "test", "bench"):
        assert extra in extras, extra


def test_allocate_ledger_journal_and_backtests_need_numpy_only(tmp_path: Path) -> None:
    code = f"""
    import pickle
    import mutualize as mz
    from mutualize.sim import Scenario, compare, run

    assert mz.allocate([10, 20, 30, 40], 7).haircuts.tolist() == [1, 1, 2, 3]
    batch = mz.allocate_many([10, 20, 30, 40], [0, 2, 4], [3, 5])
    assert batch.totals.tolist() == [3, 5]

    ledger = mz.Ledger()
    ledger.create_market(1, 100, 1_000, 500)
    for amount in (1_000, 1_000, 10**6):
        ledger.deposit(ledger.create_account()["account"], amount)
    ledger.fill(0, 1, 0, 100, 50)
    ledger.set_mark(0, 70)
    ledger.liquidate(0, 2)
    ledger.check()
    assert pickle.loads(pickle.dumps(ledger)).state() == ledger.state()
    path = {str(tmp_path / "book.journal")!r}
    ledger.write_journal(path)
    assert mz.Ledger.from_journal(path).state() == ledger.state()

    scenario = Scenario.demo().with_params({_SMALL})
    result = run(scenario, "bitmex_adl")
    assert result.series_arrays["haircuts"].dtype.kind == "i"
    assert result.account_arrays["profit"].shape == (150,)
    assert result.totals["liquidations"] > 0
    comparison = compare(scenario)
    assert "bitmex_adl" in str(comparison)
    assert set(comparison.metrics) == set(scenario.policy_names)
    blocked = [name for name in sys.modules if name.split(".")[0] in BLOCKED]
    assert blocked == [], blocked
    print("ok")
    """
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ok"


def test_the_rest_names_the_extra_to_install(tmp_path: Path) -> None:
    code = f"""
    from mutualize._extras import MissingExtraError
    from mutualize.sim import Scenario, compare, run, sweep, write_report

    scenario = Scenario.demo().with_params({_SMALL})
    result = run(scenario, "pro_rata", progress=False)
    comparison = compare(scenario, ["pro_rata"], progress=False)
    checks = [
        ("series", lambda: result.series),
        ("accounts", lambda: result.accounts),
        ("table", lambda: comparison.table),
        ("parquet", lambda: result.to_parquet({str(tmp_path / "run")!r})),
        ("report", lambda: write_report(comparison, {str(tmp_path / "report")!r})),
        ("sweep", lambda: sweep(scenario, seeds=[1], backend="threads")),
        ("progress", lambda: run(scenario, "pro_rata", progress=True)),
        ("cli", lambda: __import__("mutualize.cli")),
    ]
    for label, call in checks:
        try:
            call()
        except MissingExtraError as exc:
            print(label, exc)
        else:
            print(label, "no error")
    """
    proc = _run(code)
    assert proc.returncode == 0, proc.stderr
    lines = dict(line.split(" ", 1) for line in proc.stdout.splitlines())
    assert lines == {
        "series": "mutualize.sim tables need pandas: pip install 'mutualize[sim]'",
        "accounts": "mutualize.sim tables need pandas: pip install 'mutualize[sim]'",
        "table": "mutualize.sim tables need pandas: pip install 'mutualize[sim]'",
        "parquet": "Parquet files need pyarrow: pip install 'mutualize[sim]'",
        "report": "reports need matplotlib: pip install 'mutualize[report]'",
        "sweep": "sweeps need pandas: pip install 'mutualize[sim]'",
        "progress": "progress bars need tqdm: pip install 'mutualize[sim]'",
        "cli": "mutualize commands need click: pip install 'mutualize[cli]'",
    }
    assert not (tmp_path / "report").exists()


@pytest.mark.parametrize("entry", ["module", "script"])
def test_the_command_line_without_its_extra_is_one_line(entry: str) -> None:
    if entry == "module":
        code = "import runpy; runpy.run_module('mutualize', run_name='__main__')"
    else:
        code = "from mutualize.__main__ import main; main()"
    proc = _run(code, "demo")
    assert proc.returncode == 1
    assert proc.stderr == "error: mutualize commands need click: pip install 'mutualize[cli]'\n"
