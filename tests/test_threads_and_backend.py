"""The GIL is released during heavy work, and the backend choice behaves as documented."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

import mutualize


@pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled extension")
def test_gil_released_during_large_allocation() -> None:
    rng = np.random.default_rng(3)
    claims = rng.integers(-(10**12), 10**12, 4_000_000, dtype=np.int64)
    loss = int(claims[claims > 0].sum()) // 3
    ticks = 0
    done = threading.Event()

    def count() -> None:
        nonlocal ticks
        while not done.is_set():
            ticks += 1

    mutualize.allocate(claims, loss, rule="equal_award")  # warm up
    counter = threading.Thread(target=count)
    counter.start()
    time.sleep(0.01)
    try:
        before = ticks
        start = time.perf_counter()
        # equal_award sorts, so the call is long enough to observe (~0.3 s).
        mutualize.allocate(claims, loss, rule="equal_award")
        elapsed = time.perf_counter() - start
        during = ticks - before
    finally:
        done.set()
        counter.join()
    # A Python thread blocked on the GIL for the whole call would advance only at the
    # call's edges; released, it counts throughout.
    assert elapsed > 0.02
    assert during > 1000, (during, elapsed)


@pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled extension")
def test_threads_share_calls_safely() -> None:
    rng = np.random.default_rng(4)
    claims = rng.integers(-(10**9), 10**9, 300_000, dtype=np.int64)
    loss = int(claims[claims > 0].sum()) // 4
    expected = mutualize.allocate(claims, loss)
    results: list[bool] = []

    def work() -> None:
        for _ in range(5):
            results.append(mutualize.allocate(claims, loss) == expected)

    threads = [threading.Thread(target=work) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert results == [True] * 20


def _run(code: str, backend: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, MUTUALIZE_BACKEND=backend)
    return subprocess.run(
        [sys.executable, "-W", "default", "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_forced_python_backend_warns_once_and_works() -> None:
    code = (
        "import mutualize as mz, mutualize\n"
        "print(mz.backend)\n"
        "print(mz.allocate([10, 20, 30, 40], 7).haircuts.tolist())\n"
        "import importlib; importlib.reload(mutualize)\n"
    )
    proc = _run(code, "python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.splitlines()[:2] == ["python", "[1, 1, 2, 3]"]
    assert proc.stderr.count("BackendWarning") >= 1
    assert "pure-Python reference" in proc.stderr


def test_unknown_backend_is_an_import_error() -> None:
    proc = _run("import mutualize", "fortran")
    assert proc.returncode != 0
    assert "MUTUALIZE_BACKEND" in proc.stderr


@pytest.mark.skipif(mutualize.backend != "rust", reason="needs the compiled extension")
def test_rust_backend_is_default() -> None:
    proc = _run("import mutualize; print(mutualize.backend)", "")
    assert proc.stdout.strip() == "rust"
    assert "BackendWarning" not in proc.stderr


def test_missing_extension_falls_back_to_reference() -> None:
    # Simulates a platform without a wheel: the import of mutualize._core fails.
    code = (
        "import sys\n"
        "class Block:\n"
        "    def find_spec(self, name, path=None, target=None):\n"
        "        if name == 'mutualize._core':\n"
        "            raise ImportError('no wheel for this platform')\n"
        "sys.meta_path.insert(0, Block())\n"
        "import mutualize as mz\n"
        "print(mz.backend, mz.allocate([5, 5, 5], 1, ids=[30, 10, 20]).haircuts.tolist())\n"
    )
    proc = _run(code, "auto")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "python [0, 1, 0]"
    assert "no wheel for this platform" in proc.stderr
    forced = _run(code, "rust")
    assert forced.returncode != 0


# A meta-path finder that records, then refuses, every attempt to import the compiled
# module (a caller that catches the ImportError and falls back still shows up).
_BLOCK_CORE = """
import atexit, sys
attempts = []
class BlockCore:
    def find_spec(self, name, path=None, target=None):
        if name == "mutualize._core":
            attempts.append(name)
            raise ImportError("mutualize._core was imported")
sys.meta_path.insert(0, BlockCore())
def _no_attempt():
    if attempts or "mutualize._core" in sys.modules:
        sys.stderr.write("the compiled module was imported\\n")
        sys.stdout.flush()
        import os
        os._exit(3)
atexit.register(_no_attempt)
"""

_SMALL = {"population.count": 120, "path.steps": 120, "path.crash_step": 40}


def test_python_backend_backtests_never_import_the_extension(tmp_path: Path) -> None:
    code = _BLOCK_CORE + (
        "import json, sys\n"
        "from mutualize.sim import Scenario, compare, run\n"
        f"scenario = Scenario.demo().with_params({_SMALL!r})\n"
        "one = run(scenario, 'bitmex_adl', progress=False)\n"
        "both = compare(scenario, progress=False)\n"
        "assert 'mutualize._core' not in sys.modules\n"
        "print(json.dumps({label: dict(r.metrics) for label, r in both.items()}))\n"
        "print(json.dumps(dict(one.totals)))\n"
    )
    proc = _run(code, "python")
    assert proc.returncode == 0, proc.stderr
    metrics_line, totals_line = proc.stdout.splitlines()
    if mutualize.backend == "rust":
        from mutualize.sim import Scenario, compare, run

        scenario = Scenario.demo().with_params(_SMALL)
        compiled = compare(scenario, progress=False, backend="rust")
        assert json.loads(metrics_line) == {label: dict(r.metrics) for label, r in compiled.items()}
        one = run(scenario, "bitmex_adl", progress=False, backend="rust")
        assert json.loads(totals_line) == dict(one.totals)


def test_python_backend_cli_demo_never_imports_the_extension(tmp_path: Path) -> None:
    code = _BLOCK_CORE + (
        "import sys\n"
        "import mutualize.sim.scenario as scenario_module\n"
        "demo = scenario_module.Scenario.demo\n"
        f"scenario_module.Scenario.demo = classmethod(lambda cls: demo().with_params({_SMALL!r}))\n"
        "from mutualize.cli import main\n"
        f"try:\n    main(['demo', '--no-progress', '--out', {str(tmp_path / 'out')!r}])\n"
        "except SystemExit as exit:\n"
        "    assert exit.code in (0, None), exit.code\n"
        "assert 'mutualize._core' not in sys.modules\n"
        "print('ok')\n"
    )
    proc = _run(code, "python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip().endswith("ok")
    assert (tmp_path / "out" / "report.html").stat().st_size > 0


def test_explicit_backend_argument_overrides_the_default() -> None:
    code = _BLOCK_CORE + (
        "from mutualize.sim import Scenario, run\n"
        f"scenario = Scenario.demo().with_params({_SMALL!r})\n"
        "run(scenario, progress=False, backend='python')\n"
        "try:\n"
        "    run(scenario, progress=False, backend='rust')\n"
        "except ImportError as exc:\n"
        "    print('ImportError', 'backend=' in str(exc))\n"
        "attempts.clear()  # that one was asked for\n"
    )
    proc = _run(code, "python")
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "ImportError True"
