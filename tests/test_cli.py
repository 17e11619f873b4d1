"""The command line: the demo (the README's first command) and ``allocate``."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from mutualize.cli import main
from mutualize.demo import DEMO_CLAIMS, DEMO_LOSS, demo_allocations


def test_python_dash_m_demo_prints_every_rule() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "mutualize", "demo"],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    for label in ("pro_rata", "equal_loss", "equal_award", "uncovered"):
        assert label in proc.stdout
    # The worked example: 8, 4 and 0.5 USD of profit pay 4.8, 2.4 and 0.3 under pro rata.
    assert "4.800000" in proc.stdout
    assert "5.750000" in proc.stdout  # equal_award cuts the biggest winner first


def test_demo_allocations_cover_the_loss() -> None:
    for row in demo_allocations():
        a = row.allocation
        assert a.total + a.uncovered == DEMO_LOSS
        assert (a.haircuts <= DEMO_CLAIMS.clip(min=0)).all()


def test_allocate_command_json(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["allocate", "7", "10", "20", "30", "40", "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["haircuts"] == [1, 1, 2, 3]
    assert out["rate"] == "7/100"


def test_allocate_command_bad_input(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["allocate", "7", "10", "2.5"]) == 2
    assert "whole number" in capsys.readouterr().err


def test_allocate_command_options(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["allocate", "7", "10", "20", "30", "40", "--rounding", "down"]) == 0
    assert "dust=2" in capsys.readouterr().out
