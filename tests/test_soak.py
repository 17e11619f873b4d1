"""The soak command runs (its long runs are not part of the suite: python -m
mutualize.soak; see docs/ledger.md, "Guarantees")."""

from __future__ import annotations

import pytest

import mutualize as mz
from mutualize import soak


@pytest.mark.skipif(mz.backend != "rust", reason="the soak compares the compiled ledger")
def test_short_soak_finds_no_violation(capsys: pytest.CaptureFixture[str]) -> None:
    # Finalizers that call into the ledger wait for issue 9 item 1's fix (the deadlock
    # the soak reproduces); GC pressure, threads and journal faults run here.
    args = ["--ops", "400", "--fault-rate", "0.05", "--finalizers", "none", "--no-progress"]
    assert soak.main([*args, "--threads", "2", "--seed", "3"]) == 0
    out = capsys.readouterr().out
    assert "violations: 0" in out
    assert "torn journal write" in out
    assert "failed journal write" in out
    assert "concurrent reads" in out
