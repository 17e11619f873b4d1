"""Both backends offer the same public surface and behave the same on it.

Walks every public name of the two backends' ``Ledger`` (and ``allocate`` /
``allocate_many``): the names, their parameters, and, for each method, a valid call
then each parameter in turn replaced by edge values (negative, out of range, huge, the
wrong type, ``None``). Each call must give equal results, or raise the same exception
class, and leave equal states on both backends. The names are also those of the
``LedgerLike`` protocol that mypy checks both against.
"""

from __future__ import annotations

import inspect
import os
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import mutualize
from mutualize import _backend
from mutualize._allocation import allocate_many_with, allocate_with
from mutualize._protocols import Backend, LedgerLike
from mutualize.errors import CorruptSnapshotError
from mutualize.ledger import event_dict
from mutualize.waterfall import PRESETS, Waterfall

pytestmark = pytest.mark.skipif(
    mutualize.backend != "rust", reason="parity needs the compiled backend too"
)


def _backends() -> tuple[Backend, Backend]:
    return _backend.get("rust"), _backend.get("python")


def _public(cls: type, instance: object) -> set[str]:
    names = {n for n in dir(cls) if not n.startswith("_")}
    names |= (
        {n for n in vars(instance) if not n.startswith("_")}
        if hasattr(instance, "__dict__")
        else set()
    )
    return names


def _protocol_members(protocol: type) -> set[str]:
    return {
        name
        for name in vars(protocol)
        if not name.startswith("_") and name not in {"_is_protocol", "_is_runtime_protocol"}
    }


# --------------------------------------------------------------------------- the ledgers


def _ledger(cls: type[LedgerLike]) -> Any:
    """Two markets, five accounts (4 is the house-like backstop), positions in both
    markets, funding paid, a mark move that makes account 2 liquidatable."""
    ledger = cls()
    ledger.create_market(10, 1_000, 1_000, 500, 50)
    ledger.create_market(1, 50, 2_000, 1_000)
    for amount in (200_000, 200_000, 12_000, 2_000_000, 10**9):
        ledger.deposit(ledger.create_account()["account"], amount)
    ledger.fund_insurance(1_000)
    ledger.fill(0, 1, 0, 1_000, 10)
    ledger.fill(2, 3, 0, 1_000, 10, 5, 5)
    ledger.fill(3, 0, 1, 50, 100)
    ledger.apply_funding(1, 3)
    ledger.set_mark(0, 900)
    return ledger


def _plain(value: Any) -> Any:
    """A result in a form both backends can be compared in."""
    if isinstance(value, np.ndarray):
        return ("array", value.dtype.str, value.tolist())
    if isinstance(value, Waterfall):
        return ("waterfall", value.to_dict())
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if hasattr(value, "keys") and hasattr(value, "__getitem__"):
        return event_dict(value)
    if isinstance(value, bytes | bytearray):
        return "bytes"  # the snapshot formats differ; round trips are checked below
    if hasattr(value, "state"):
        return ("ledger", value.state())
    return value


def _outcome(call: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[str, Any]:
    """``("ok", plain result)`` or ``("raises", exception class name)``."""
    try:
        return ("ok", _plain(call(*args, **kwargs)))
    except Exception as exc:
        return ("raises", type(exc).__name__)


# Edge values by parameter name (valid ones first).
_IDS = [0, 2, 4, -1, 5, 2**70, True, None, "1", 1.5]
_MARKETS = [0, 1, -1, 2, 2**70, True, None, "0", 1.5]
_AMOUNTS = [7, 0, -1, 2**63, 2**64, 1.5, "7", None, True, Decimal(7), Decimal("7.5")]
_ARRAY = np.array([0, 2], dtype=np.int64)

EDGES: dict[str, list[Any]] = {
    "account": _IDS,
    "buyer": _IDS,
    "seller": _IDS,
    "counterparty": _IDS,
    "market": _MARKETS,
    "amount": _AMOUNTS,
    "delta": _AMOUNTS,
    "price": _AMOUNTS,
    "size": _AMOUNTS,
    "buyer_fee": _AMOUNTS,
    "seller_fee": _AMOUNTS,
    "tick_value": _AMOUNTS,
    "mark": _AMOUNTS,
    "imr_bps": [*_AMOUNTS, 10_001],
    "mmr_bps": [*_AMOUNTS, 2_000],
    "penalty_bps": [*_AMOUNTS, 10_001],
    "n": [2, 0, -1, True, 1.5, None, "2"],
    "check_margin": [True, False, 1, None],
    "prices": [None, {0: 800}, {0: -1}, {5: 1}, {0: 1.5}, {1: 60}],
    "counterparties": [None, [3], [0], [9], [3, 3], [-1]],
    "marks": [
        np.array([900, 50], dtype=np.int64),
        np.array([0, 50], dtype=np.int64),
        np.array([900], dtype=np.int64),
    ],
    "buyers": [_ARRAY, np.array([0], dtype=np.int64), np.array([0, 9], dtype=np.int64)],
    "sellers": [np.array([1, 3], dtype=np.int64), np.array([1, 2], dtype=np.int64)],
    "sizes": [np.array([1, 2], dtype=np.int64), np.array([1, 0], dtype=np.int64)],
    "waterfall": [PRESETS["bitmex_adl"](), Waterfall().to_dict(), "x", {"stages": "x"}],
}
# The valid value of each parameter where the first edge value is not the one to use.
VALID: dict[str, dict[str, Any]] = {
    "withdraw": {"amount": 7},
    "fill": {"buyer": 0, "seller": 1, "market": 0, "price": 900, "size": 1},
    "fill_many": {"market": 0, "prices": np.array([900, 900], dtype=np.int64)},
    "set_mark": {"price": 950},
    "liquidate": {"account": 2, "counterparty": 4, "prices": None},
    "deleverage": {"account": 2, "market": 0, "counterparties": None, "price": None},
    "bankruptcy_price": {"account": 2},
    "fund_insurance": {"market": None},
}
# Methods whose valid call needs more than the edge table gives.
SPECIAL = {"replay", "restore", "from_journal", "write_journal", "snapshot"}
# Extra (engine-internal) keyword-only parameters of one backend, not part of the API.
INTERNAL = {"adl_queues"}


def _calls(name: str, method: Any) -> Iterator[tuple[str, dict[str, Any]]]:
    """The valid call of ``name``, then each parameter replaced by its edge values."""
    parameters = [
        p
        for p in inspect.signature(method).parameters.values()
        if p.name != "self" and p.name not in INTERNAL
    ]
    valid: dict[str, Any] = {}
    for p in parameters:
        if p.name in VALID.get(name, {}):
            valid[p.name] = VALID[name][p.name]
        elif p.name in EDGES:
            valid[p.name] = EDGES[p.name][0]
        elif p.default is not inspect.Parameter.empty:
            valid[p.name] = p.default
        else:
            raise AssertionError(f"no edge values for {name}({p.name})")
    yield "valid", dict(valid)
    for p in parameters:
        for value in EDGES.get(p.name, []):
            yield f"{p.name}={value!r}", {**valid, p.name: value}


def test_both_ledgers_have_the_protocols_public_names() -> None:
    rust, python = _backends()
    expected = _protocol_members(LedgerLike)
    for backend in (rust, python):
        names = _public(backend.ledger, backend.ledger())
        assert names == expected, (backend.name, names ^ expected)


def test_both_ledgers_take_the_same_parameters() -> None:
    rust, python = _backends()
    differences = []
    for name in sorted(_protocol_members(LedgerLike)):
        attrs = [inspect.getattr_static(b.ledger, name, None) for b in (rust, python)]
        if any(isinstance(a, property) or a is None for a in attrs):
            continue
        shapes: list[list[tuple[str, Any]]] = []
        for backend in (rust, python):
            signature = inspect.signature(getattr(backend.ledger, name))
            shapes.append(
                [
                    (p.name, p.default if p.default is not inspect.Parameter.empty else "-")
                    for p in signature.parameters.values()
                    if p.name != "self" and p.name not in INTERNAL
                ]
            )
        if shapes[0] != shapes[1]:
            differences.append((name, *shapes))
    assert differences == []


def test_every_method_gives_the_same_results_and_errors() -> None:
    rust, python = _backends()
    differences = []
    for name in sorted(_protocol_members(LedgerLike) - SPECIAL):
        attribute = inspect.getattr_static(rust.ledger, name)
        if isinstance(attribute, property) or type(attribute).__name__ == "getset_descriptor":
            outcomes = [_outcome(getattr, _ledger(b.ledger), name) for b in (rust, python)]
            if outcomes[0] != outcomes[1]:
                differences.append((name, "", *outcomes))
            continue
        for label, kwargs in _calls(name, getattr(rust.ledger, name)):
            ledgers = [_ledger(b.ledger) for b in (rust, python)]
            outcomes = [_outcome(getattr(ledger, name), **kwargs) for ledger in ledgers]
            states = [ledger.state() for ledger in ledgers]
            if outcomes[0] != outcomes[1]:
                differences.append((name, label, *outcomes))
            elif states[0] != states[1]:
                differences.append((name, label, "states differ"))
    assert differences == [], "\n".join(map(str, differences))


def test_persistence_round_trips_on_both(tmp_path: Path) -> None:
    for backend in _backends():
        ledger = _ledger(backend.ledger)
        again = backend.ledger.restore(ledger.snapshot())
        assert again.state() == ledger.state()
        replayed = backend.ledger.replay([event_dict(e) for e in ledger.journal])
        assert replayed.state() == ledger.state()
        path = tmp_path / f"{backend.name}.journal"
        ledger.write_journal(path)
        assert backend.ledger.from_journal(path).state() == ledger.state()
        for bad in (b"", b"junk" * 10):
            with pytest.raises(CorruptSnapshotError):
                backend.ledger.restore(bad)
    # A journal written by one backend replays on the other.
    rust, python = _backends()
    rust_journal = tmp_path / "rust.journal"
    assert python.ledger.from_journal(rust_journal).state() == _ledger(rust.ledger).state()


# --------------------------------------------------------------------------- allocate

_CLAIMS: list[Any] = [
    [10, 20, 30, 40],
    [],
    [5, -3, 0],
    np.array([1.5, 2.0]),
    np.array([[1, 2]]),
    "123",
    None,
    [2**63],
    np.ma.masked_array([1, 2], mask=[False, True]),
]
ALLOCATE_EDGES: dict[str, list[Any]] = {
    "claims": _CLAIMS,
    "loss": [7, 0, -1, 2**63, 1.5, "7", None, Decimal("7.5")],
    "rule": ["pro_rata", "equal_loss", "equal_award", None, 5, "x"],
    "rounding": ["exact", "down", "up", None, "x"],
    "ids": [None, [4, 3, 2, 1], [1, 1, 2, 3], [1, 2]],
    "caps": [None, [1, 1, 1, 1], [-1, 0, 0, 0], [1]],
    "max_rate": [None, "1/2", "2", 1.5, -1, "x"],
    "weights": [None, [1, 0, 2, 1], [-1, 1, 1, 1]],
}


def _allocation(kernel: Any, **kwargs: Any) -> dict[str, Any]:
    return allocate_with(kernel, **kwargs).to_dict()


def _batch(kernel: Any, **kwargs: Any) -> dict[str, Any]:
    return allocate_many_with(kernel, **kwargs).to_dict()


def test_allocate_gives_the_same_results_and_errors() -> None:
    valid = {name: values[0] for name, values in ALLOCATE_EDGES.items()}
    differences = []
    for name, values in ALLOCATE_EDGES.items():
        for value in values:
            kwargs = {**valid, name: value}
            outcomes = [_outcome(_allocation, b.kernel, **kwargs) for b in _backends()]
            if outcomes[0] != outcomes[1]:
                differences.append((name, value, *outcomes))
    assert differences == [], "\n".join(map(str, differences))


def test_allocate_many_gives_the_same_results_and_errors() -> None:
    base: dict[str, Any] = {
        "claims": [10, 20, 30, 40],
        "offsets": [0, 2, 4],
        "losses": [3, 5],
        "rule": "pro_rata",
        "rounding": "exact",
        "ids": None,
        "caps": None,
        "max_rate": None,
        "weights": None,
    }
    edges: dict[str, list[Any]] = {
        "offsets": [[0, 4], [0, 3, 2], [1, 2, 4], [0, 2, 5], None],
        "losses": [[3], [-1, 5], [2**63, 0], None],
        "rule": [None, "x", "equal_award"],
        "rounding": [None, "up"],
    }
    differences = []
    for name, values in edges.items():
        for value in values:
            kwargs = {**base, name: value}
            outcomes = [_outcome(_batch, b.kernel, **kwargs) for b in _backends()]
            if outcomes[0] != outcomes[1]:
                differences.append((name, value, *outcomes))
    assert differences == [], "\n".join(map(str, differences))


def test_the_default_backend_is_the_public_one() -> None:
    chosen = _backend.get()
    assert chosen.name == mutualize.backend
    assert mutualize.Ledger is chosen.ledger
    assert os.environ.get("MUTUALIZE_BACKEND", "auto") in ("", "auto", "rust", chosen.name)
