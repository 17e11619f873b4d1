"""Data sets shipped with mutualize, addressed on the command line as ``@NAME``.

``mutualize score @hyperliquid-2025-10-10`` reads the real per-wave file of the
MIT-licensed analysis of arXiv 2602.15182 (license and provenance in
``data/oss-adl/``); ``mutualize replay @sample-accounts`` reads the synthetic sample
written by ``scripts/make_replay_sample.py``.
"""

from __future__ import annotations

from pathlib import Path

from mutualize.errors import InvalidInputError

__all__ = ["DATA", "DATASETS", "resolve"]

#: The folder holding the shipped files.
DATA = Path(__file__).resolve().parent / "data"

#: ``NAME -> (file under DATA, what it is)``.
DATASETS: dict[str, tuple[str, str]] = {
    "hyperliquid-2025-10-10": (
        "oss-adl/policy_per_wave_metrics.csv",
        "per-wave budgets and haircuts of 7 policies over the 16 Hyperliquid ADL waves of "
        "10 October 2025 (MIT, autodeleveraging-analysis)",
    ),
    "hyperliquid-2025-10-10-gaps": (
        "oss-adl/two_pass_wave_coin_gap_per_contract.csv",
        "per wave and coin: budget (gap x quantity) and gap per contract, same waves (MIT)",
    ),
    "hyperliquid-2025-10-10-two-pass": (
        "oss-adl/two_pass_equity_delta_by_wave.csv",
        "per wave: deficit, budget needed, production haircuts of the two-pass replay (MIT)",
    ),
    "sample-accounts": (
        "sample/accounts.csv",
        "synthetic per-account rows in the HyperReplay layout (scripts/make_replay_sample.py)",
    ),
    "sample-gaps": (
        "sample/coin_gaps.csv",
        "per-wave, per-coin budgets and unit values for the synthetic sample",
    ),
}


def resolve(argument: str | Path) -> Path:
    """A path as given, or the shipped file an ``@NAME`` argument names."""
    text = str(argument)
    if not text.startswith("@"):
        return Path(argument)
    name = text[1:]
    try:
        relative, _ = DATASETS[name]
    except KeyError:
        known = ", ".join(f"@{n}" for n in DATASETS)
        raise InvalidInputError(f"unknown data set {text!r}; shipped: {known}") from None
    return DATA / relative
