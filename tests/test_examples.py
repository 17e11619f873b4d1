"""The example scenarios that ship in the package, and ``mutualize init`` that writes them."""

from __future__ import annotations

import filecmp
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner

from mutualize import examples
from mutualize.cli import main
from mutualize.sim import Scenario

REPO_EXAMPLES = Path(__file__).resolve().parents[1] / "examples" / "scenarios"
PACKAGE_EXAMPLES = Path(examples.__file__).resolve().parent


def test_files_lists_every_example_in_the_package() -> None:
    shipped = {p.name for p in PACKAGE_EXAMPLES.iterdir() if p.is_file()}
    assert shipped - {"__init__.py"} == set(examples.FILES)
    for name in examples.FILES:
        assert examples.path(name).is_file()


def test_the_repository_copy_matches_the_package() -> None:
    # examples/scenarios/ is kept for the tests and links that read it; the package copy
    # is what users get. The two must not drift.
    if not REPO_EXAMPLES.is_dir():
        pytest.skip("not a source checkout")
    in_repo = sorted(p.name for p in REPO_EXAMPLES.iterdir() if p.is_file())
    assert in_repo == sorted(set(examples.FILES) - {"README.md"})
    for name in in_repo:
        assert filecmp.cmp(REPO_EXAMPLES / name, PACKAGE_EXAMPLES / name, shallow=False), name


def test_path_refuses_an_unknown_name() -> None:
    with pytest.raises(ValueError, match=r"no example named 'nope.toml'.*crash\.toml"):
        examples.path("nope.toml")
    with pytest.raises(ValueError, match="no example named"):
        examples.path("../cli.py")


@pytest.mark.parametrize("name", ["crash.toml", "gbm.toml", "replay.toml"])
def test_every_installed_scenario_loads_from_its_own_folder(name: str) -> None:
    scenario = Scenario.from_toml(examples.path(name))
    inputs = scenario.build()
    assert inputs.num_accounts > 0
    assert scenario.policies


def test_init_writes_every_example_into_an_empty_folder(tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["init", str(tmp_path / "new" / "folder")])
    assert result.exit_code == 0, result.output
    folder = tmp_path / "new" / "folder"
    assert sorted(p.name for p in folder.iterdir()) == sorted(examples.FILES)
    for name in examples.FILES:
        assert (folder / name).read_bytes() == examples.path(name).read_bytes()
        assert f"wrote {folder / name}" in result.stdout
    assert f"mutualize compare {folder / 'crash.toml'}" in result.stdout
    # The copy is self-contained: replay.toml finds prices.csv beside it.
    copied = Scenario.from_toml(folder / "replay.toml").build().prices
    shipped = Scenario.from_toml(examples.path("replay.toml")).build().prices
    assert copied.shape[0] > 100
    assert np.array_equal(copied, shipped)


def test_init_defaults_to_the_current_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(main, ["init"])
    assert result.exit_code == 0, result.output
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(examples.FILES)


def test_init_leaves_existing_files_alone_unless_forced(tmp_path: Path) -> None:
    mine = tmp_path / "crash.toml"
    mine.write_text("my own scenario\n")
    result = CliRunner().invoke(main, ["init", str(tmp_path)])
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == [
        f"error: already in {tmp_path}: crash.toml; use --force to overwrite"
    ]
    assert "Traceback" not in result.output
    # Nothing written, not even the files that were free.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["crash.toml"]
    assert mine.read_text() == "my own scenario\n"

    forced = CliRunner().invoke(main, ["init", str(tmp_path), "--force"])
    assert forced.exit_code == 0, forced.output
    assert mine.read_bytes() == examples.path("crash.toml").read_bytes()


def test_init_into_a_file_is_a_user_error(tmp_path: Path) -> None:
    file = tmp_path / "taken"
    file.write_text("x")
    result = CliRunner().invoke(main, ["init", str(file)])
    assert result.exit_code == 2
    assert result.stderr.strip() == f"error: not a folder: {file}"
    assert file.read_text() == "x"


def test_write_returns_the_files_it_wrote(tmp_path: Path) -> None:
    written = examples.write(tmp_path)
    assert written == [tmp_path / name for name in examples.FILES]
    with pytest.raises(FileExistsError, match="already in"):
        examples.write(tmp_path)
    assert examples.write(tmp_path, overwrite=True) == written
