"""What a package index shows and a user installs: license, URLs, classifiers, files.

The installed distribution's metadata is checked on every run (an editable install
writes the same METADATA as the wheel). The built artifacts themselves (the wheel and
the sdist) are checked when ``MUTUALIZE_DIST`` names the folder holding them, as
``.ci/run`` does after ``bash scripts/wheel`` and the release workflow does for each
platform's wheel; then a folder without artifacts is a failure, not a skip.
"""

from __future__ import annotations

import email.message
import email.parser
import importlib.metadata
import os
import re
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import mutualize.examples

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
PYPROJECT = ROOT / "pyproject.toml"
LICENSE_EXPRESSION = "MIT OR Apache-2.0"
LICENSE_FILES = ("LICENSE-MIT", "LICENSE-APACHE")
REPOSITORY = "https://github.com/mutualize/mutualize"
URL_LABELS = ("Homepage", "Source", "Documentation", "Issues")
PLACEHOLDERS = re.compile(r"example\.(invalid|com|org)|\[yyyy\]|\[name of copyright owner\]", re.I)
PYTHONS = ("3.10", "3.11", "3.12", "3.13")


def _pyproject() -> dict[str, object]:
    if not PYPROJECT.exists():
        pytest.skip("not a source checkout (no pyproject.toml beside tests/)")
    data: dict[str, object] = tomllib.loads(PYPROJECT.read_text(encoding="utf-8"))
    return data


def _parse(text: str) -> email.message.Message:
    return email.parser.Parser().parsestr(text)


def check_core_metadata(text: str, where: str) -> None:
    """The fields a package index shows, as PEP 639 and the project's standards want them."""
    meta = _parse(text)
    version = tuple(int(p) for p in str(meta["Metadata-Version"]).split("."))
    assert version >= (2, 4), f"{where}: Metadata-Version {version} predates PEP 639"
    assert meta["Name"] == "mutualize"
    assert meta["License-Expression"] == LICENSE_EXPRESSION, where
    # PEP 639: with an SPDX expression the legacy field and `License ::` classifiers go
    # (PyPI rejects an upload that has both).
    assert meta["License"] is None, where
    classifiers = meta.get_all("Classifier") or []
    assert not [c for c in classifiers if c.startswith("License ::")], where
    assert sorted(meta.get_all("License-File") or []) == sorted(LICENSE_FILES), where

    urls = dict(u.split(", ", 1) for u in meta.get_all("Project-URL") or [])
    for label in URL_LABELS:
        assert label in urls, f"{where}: no Project-URL {label}"
        assert urls[label].startswith(REPOSITORY), f"{where}: {label} = {urls[label]}"

    for python in PYTHONS:
        assert f"Programming Language :: Python :: {python}" in classifiers, where
    assert meta["Requires-Python"] == ">=3.10"
    for prefix in ("Development Status ::", "Intended Audience ::", "Operating System ::"):
        assert any(c.startswith(prefix) for c in classifiers), f"{where}: no {prefix}"
    assert "Programming Language :: Rust" in classifiers
    assert any(c.startswith("Topic :: Office/Business :: Financial") for c in classifiers)
    assert "socialized loss" in str(meta["Keywords"])
    assert meta["Author"] or meta["Author-email"], where
    assert meta["Summary"], where
    assert str(meta["Description-Content-Type"]).startswith("text/markdown"), where

    found = PLACEHOLDERS.findall(text)
    assert not found, f"{where}: placeholder text {found}"


# --------------------------------------------------------------------------- installed


def test_installed_metadata_has_the_license_urls_and_classifiers() -> None:
    dist = importlib.metadata.distribution("mutualize")
    text = dist.read_text("METADATA")
    assert text is not None
    check_core_metadata(text, "installed METADATA")


def test_installed_distribution_carries_the_license_texts() -> None:
    dist = importlib.metadata.distribution("mutualize")
    installed = {Path(str(f)).name: f for f in dist.files or [] if "licenses" in str(f)}
    assert sorted(installed) == sorted(LICENSE_FILES)
    for name, file in installed.items():
        text = Path(str(dist.locate_file(file))).read_text(encoding="utf-8")
        if (ROOT / name).exists():
            assert text == (ROOT / name).read_text(encoding="utf-8")


# --------------------------------------------------------------------------- sources


def test_pyproject_declares_the_license_and_its_files() -> None:
    project = _pyproject()["project"]
    assert isinstance(project, dict)
    assert project["license"] == LICENSE_EXPRESSION
    assert sorted(project["license-files"]) == sorted(LICENSE_FILES)
    for name in LICENSE_FILES:
        assert (ROOT / name).is_file()
    assert "Permission is hereby granted, free of charge" in (ROOT / "LICENSE-MIT").read_text()
    apache = (ROOT / "LICENSE-APACHE").read_text()
    assert "Apache License" in apache
    assert "Version 2.0, January 2004" in apache


def test_every_crate_has_the_same_license_and_a_real_repository() -> None:
    _pyproject()
    workspace = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["package"]
    assert workspace["license"] == LICENSE_EXPRESSION
    assert workspace["repository"] == REPOSITORY
    for manifest in sorted((ROOT / "rust").glob("*/Cargo.toml")):
        package = tomllib.loads(manifest.read_text())["package"]
        for field in ("license", "repository"):
            assert package.get(field) == {"workspace": True}, f"{manifest}: {field}"


@pytest.mark.parametrize(
    "name", ["Cargo.toml", "pyproject.toml", "README.md", "rust/core/Cargo.toml"]
)
def test_no_placeholder_urls_in_the_sources(name: str) -> None:
    _pyproject()
    text = (ROOT / name).read_text(encoding="utf-8")
    assert "example.invalid" not in text
    assert not re.findall(r"https?://example\.", text)


# --------------------------------------------------------------------------- artifacts


def _dist_folder() -> Path:
    folder = os.environ.get("MUTUALIZE_DIST")
    if not folder:
        pytest.skip("set MUTUALIZE_DIST=dist after `bash scripts/wheel` to check the artifacts")
    path = Path(folder)
    if not path.is_absolute():
        path = Path.cwd() / path
    return path


def _wheels() -> list[Path]:
    wheels = sorted(_dist_folder().glob("mutualize-*.whl"))
    assert wheels, f"no wheel in {_dist_folder()}"
    return wheels


def _package_files() -> dict[str, bytes]:
    """The example files as the installed package has them."""
    return {name: mutualize.examples.path(name).read_bytes() for name in mutualize.examples.FILES}


def test_wheels_are_abi3_and_portable() -> None:
    for wheel in _wheels():
        # name-version-python-abi-platform.whl
        _, _, python, abi, platform = wheel.name[: -len(".whl")].split("-")
        assert (python, abi) == ("cp310", "abi3"), wheel.name
        if "linux" in platform:
            glibc = [tuple(map(int, m)) for m in re.findall(r"manylinux_(\d+)_(\d+)", platform)]
            assert glibc, f"{wheel.name}: not a manylinux wheel"
            assert max(glibc) <= (2, 17), f"{wheel.name}: needs glibc {max(glibc)}"
            assert "manylinux2014" in platform, wheel.name


def test_wheels_carry_metadata_licenses_and_examples() -> None:
    for wheel in _wheels():
        with zipfile.ZipFile(wheel) as zf:
            names = zf.namelist()
            info = next(n.split("/")[0] for n in names if n.endswith(".dist-info/METADATA"))
            check_core_metadata(zf.read(f"{info}/METADATA").decode(), wheel.name)
            for name in LICENSE_FILES:
                text = zf.read(f"{info}/licenses/{name}")
                if (ROOT / name).exists():
                    assert text == (ROOT / name).read_bytes(), f"{wheel.name}: {name}"
            for name, content in _package_files().items():
                assert zf.read(f"mutualize/examples/{name}") == content, wheel.name
            assert any(re.fullmatch(r"mutualize/_core\.(abi3\.so|pyd)", n) for n in names)
            assert "mutualize/py.typed" in names


def test_sdist_carries_metadata_licenses_and_examples() -> None:
    sdists = sorted(_dist_folder().glob("mutualize-*.tar.gz"))
    assert len(sdists) == 1, f"expected one sdist in {_dist_folder()}, found {sdists}"
    with tarfile.open(sdists[0]) as tf:
        top = sdists[0].name[: -len(".tar.gz")]

        def read(member: str) -> bytes:
            extracted = tf.extractfile(f"{top}/{member}")
            assert extracted is not None, member
            return extracted.read()

        check_core_metadata(read("PKG-INFO").decode(), sdists[0].name)
        for name in LICENSE_FILES:
            text = read(name)
            if (ROOT / name).exists():
                assert text == (ROOT / name).read_bytes()
        for name, content in _package_files().items():
            assert read(f"python/mutualize/examples/{name}") == content
        for member in ("pyproject.toml", "Cargo.toml", "Cargo.lock", "README.md"):
            assert read(member)
