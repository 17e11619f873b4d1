"""No two modules of either Rust crate use each other (issue 10, "no module cycles"):
scripts/check_cycles.py on both crates, and on small crates that it must refuse."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _checker() -> ModuleType:
    script = ROOT / "scripts" / "check_cycles.py"
    spec = importlib.util.spec_from_file_location("check_cycles", script)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules["check_cycles"] = module
    spec.loader.exec_module(module)
    return module


check_cycles = _checker()


@pytest.mark.parametrize("crate", ["rust/core/src", "rust/python/src"])
def test_the_crates_have_no_module_cycles(crate: str) -> None:
    assert check_cycles.check(ROOT / crate) == []


def _crate(tmp_path: Path, files: dict[str, str]) -> Path:
    for name, text in files.items():
        path = tmp_path / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    return tmp_path


def test_a_top_level_cycle_is_found(tmp_path: Path) -> None:
    src = _crate(
        tmp_path,
        {
            "lib.rs": "mod event;\nmod ledger;\n",
            "event.rs": "use crate::ledger::PyLedger;\n",
            "ledger.rs": "// use crate::nothing;\nfn f() { crate::event::to_dict(); }\n",
        },
    )
    assert check_cycles.check(src) == [f"{src}: modules use each other (crate): event, ledger"]


def test_a_sibling_cycle_through_a_reexport_is_found(tmp_path: Path) -> None:
    src = _crate(
        tmp_path,
        {
            "lib.rs": "pub mod ledger;\n",
            "ledger/mod.rs": "mod a;\nmod b;\npub use a::Alpha;\npub struct Ledger;\n",
            "ledger/a.rs": "use super::{b::beta, Ledger};\npub struct Alpha;\n",
            "ledger/b.rs": "use super::Alpha;\npub fn beta() {}\n",
        },
    )
    assert check_cycles.check(src) == [
        f"{src}: modules use each other (ledger): ledger::a, ledger::b"
    ]


def test_children_may_use_their_parent(tmp_path: Path) -> None:
    src = _crate(
        tmp_path,
        {
            "lib.rs": "pub mod ledger;\n",
            "ledger/mod.rs": "mod a;\npub struct Ledger;\nfn f() { a::g(); }\n",
            "ledger/a.rs": "use super::Ledger;\npub fn g() {}\n",
        },
    )
    assert check_cycles.check(src) == []
