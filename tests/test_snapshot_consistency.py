"""Issue 9, item 5: ``restore`` holds a snapshot to every invariant, not only to its
checksum. Each case edits a real snapshot and recomputes its length and checksum (what
a person editing the file would do): both backends refuse it with
``CorruptSnapshotError`` naming the broken invariant, and change no ledger."""

from __future__ import annotations

import hashlib
import json
import struct
from collections.abc import Callable
from typing import Any

import pytest

import mutualize as mz
from mutualize._ledger_python import Ledger as PythonLedger
from mutualize.errors import CorruptSnapshotError

Edit = Callable[[dict[str, Any]], None]


def _busy(Ledger: Any) -> Any:  # noqa: N803
    ledger = Ledger()
    ledger.create_market(tick_value=1, mark=100, imr_bps=1_000, mmr_bps=500, penalty_bps=50)
    ledger.create_market(tick_value=2, mark=40, imr_bps=2_000, mmr_bps=1_000)
    for _ in range(4):
        ledger.create_account()
    for a, amount in enumerate([100, 100, 1_000_000, 500]):
        ledger.deposit(a, amount)
    ledger.fund_insurance(300)
    ledger.fill(0, 1, 0, 100, 10)
    ledger.fill(3, 2, 1, 40, 3)
    ledger.set_mark(0, 10)
    ledger.liquidate(0, 2)
    return ledger


# ---- the compiled snapshot: fixed binary layout (rust/core/src/ledger/snapshot.rs)

_FNV_OFFSET, _FNV_PRIME, _MASK = 0xCBF29CE484222325, 0x100000001B3, (1 << 64) - 1


def _checksum(data: bytes) -> int:
    """The snapshot checksum: FNV-1a 64 over little-endian 64-bit words, then the length."""
    h = _FNV_OFFSET
    padded = data + bytes(-len(data) % 8)
    for (word,) in struct.iter_unpack("<Q", padded):
        h = ((h ^ word) * _FNV_PRIME) & _MASK
    return ((h ^ len(data)) * _FNV_PRIME) & _MASK


def _rust_fields(state: dict[str, Any]) -> list[tuple[str, int, int]]:
    """(name, offset, byte width) of each state field in a compiled snapshot."""
    out, at = [], 8 + 4 + 8 + 8  # magic, version, payload length, market count
    for m in range(len(state["markets"])):
        for name in ("tick_value", "mark", "imr_bps", "mmr_bps", "penalty_bps"):
            out.append((f"markets.{m}.{name}", at, 8))
            at += 8
        for name in ("funding_index", "insurance_fund"):
            out.append((f"markets.{m}.{name}", at, 16))
            at += 16
    at += 8  # account count
    for a in range(len(state["accounts"])):
        for name in ("collateral", "session_start_equity", "session_deposits"):
            out.append((f"accounts.{a}.{name}", at, 16))
            at += 16
    for m in range(len(state["markets"])):
        for a in range(len(state["accounts"])):
            out.append((f"accounts.{a}.positions.{m}.size", at, 8))
            out.append((f"accounts.{a}.positions.{m}.basis", at + 8, 16))
            out.append((f"accounts.{a}.positions.{m}.funding_snapshot", at + 24, 16))
            at += 40
    for name in ("insurance_fund", "fee_pool", "bad_debt", "deferred_loss", "deposits"):
        out.append((name, at, 16))
        at += 16
    out.append(("withdrawals", at, 16))
    return out


def _get(state: dict[str, Any], name: str) -> Any:
    value: Any = state
    for key in name.split("."):
        value = value[int(key)] if key.isdigit() else value[key]
    return value


def _edit_rust(data: bytes, state: dict[str, Any], edits: dict[str, int]) -> bytes:
    body = bytearray(data[:-8])
    for name, at, width in _rust_fields(state):
        assert int.from_bytes(body[at : at + width], "little", signed=True) == _get(state, name)
        if name in edits:
            body[at : at + width] = edits[name].to_bytes(width, "little", signed=True)
    return bytes(body) + struct.pack("<Q", _checksum(bytes(body)))


# ---- the reference snapshot: a header, a SHA-256 and canonical JSON

_REF_HEADER = struct.Struct("<8sHQ32s")


def _edit_python(data: bytes, state: dict[str, Any], edits: dict[str, int]) -> bytes:
    magic, version, _, _ = _REF_HEADER.unpack_from(data)
    document = json.loads(data[_REF_HEADER.size :])
    for name, value in edits.items():
        *path, last = name.split(".")
        holder = document["state"]
        for key in path:
            holder = holder[int(key)] if key.isdigit() else holder[key]
        holder[int(last) if last.isdigit() else last] = value
    payload = json.dumps(document, sort_keys=True, separators=(",", ":")).encode()
    digest = hashlib.sha256(payload).digest()
    return _REF_HEADER.pack(magic, version, len(payload), digest) + payload


@pytest.fixture(params=["rust", "python"])
def backend(request: pytest.FixtureRequest) -> tuple[Any, Any]:
    if request.param == "rust":
        if mz.backend != "rust":
            pytest.skip("compiled extension not available")
        return mz.Ledger, _edit_rust
    return PythonLedger, _edit_python


def _edits(state: dict[str, Any]) -> list[tuple[str, dict[str, int]]]:
    """Edits that each break one invariant (and only that one, where possible)."""
    c1 = state["accounts"][1]["collateral"]
    b = state["accounts"][1]["positions"][0]["basis"]
    c3 = state["accounts"][3]["collateral"]
    c0 = state["accounts"][0]["collateral"]
    return [
        ("conservation", {"accounts.1.collateral": c1 + 1}),
        ("conservation", {"deposits": state["deposits"] - 7}),
        ("conservation", {"accounts.1.positions.0.basis": b + 1}),
        # One long lot too many, bought at the mark: no PnL, so only open interest breaks.
        ("open interest", {"accounts.0.positions.1.size": 1, "accounts.0.positions.1.basis": 40}),
        ("fee_pool", {"fee_pool": -5, "accounts.3.collateral": c3 + 5}),
        (
            # The reference refuses the value as it decodes it.
            "insurance fund of market 1|market 1 insurance_fund = -1 is out of range",
            {"markets.1.insurance_fund": -1, "insurance_fund": state["insurance_fund"] + 1},
        ),
        # A flat position with a basis (no operation leaves one), PnL made up by collateral.
        (
            "flat in market 0",
            {"accounts.0.positions.0.basis": 10, "accounts.0.collateral": c0 + 10},
        ),
    ]


def test_restore_refuses_an_edited_inconsistent_snapshot(backend: tuple[Any, Any]) -> None:
    Ledger, edit = backend  # noqa: N806
    ledger = _busy(Ledger)
    ledger.check()
    state = ledger.state()
    data = bytes(ledger.snapshot())
    assert Ledger.restore(edit(data, state, {})).state() == state  # the editor is faithful
    for invariant, edits in _edits(state):
        bad = edit(data, state, edits)
        with pytest.raises(CorruptSnapshotError, match=invariant):
            Ledger.restore(bad)
        # Called through an existing ledger (a classmethod), it changes nothing there.
        with pytest.raises(CorruptSnapshotError):
            ledger.restore(bad)
        assert ledger.state() == state
        ledger.check()
