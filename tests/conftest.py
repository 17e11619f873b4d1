"""Shared fixtures: every public-API test runs against both backends."""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

import mutualize
import mutualize.reference

VECTORS = Path(__file__).resolve().parents[2] / "shared" / "vectors"
LOCAL_VECTORS = Path(__file__).resolve().parent / "vectors"


def load_vectors(name: str) -> dict[str, Any]:
    """The worked cases of shared/vectors, or the copy kept beside the tests."""
    for folder in (VECTORS, LOCAL_VECTORS):
        path = folder / name
        if path.exists():
            loaded: dict[str, Any] = json.loads(path.read_text())
            return loaded
    pytest.skip(f"{name} not found in {VECTORS} or {LOCAL_VECTORS}")


@pytest.fixture(params=["rust", "python"])
def api(request: pytest.FixtureRequest) -> SimpleNamespace:
    """``allocate``/``allocate_many`` of one backend (the compiled one is skipped where
    the extension is not built)."""
    if request.param == "rust":
        if mutualize.backend != "rust":
            pytest.skip("compiled extension not available")
        return SimpleNamespace(
            name="rust", allocate=mutualize.allocate, allocate_many=mutualize.allocate_many
        )
    return SimpleNamespace(
        name="python",
        allocate=mutualize.reference.allocate,
        allocate_many=mutualize.reference.allocate_many,
    )
