"""Every command and snippet of the research pages runs and prints what the page shows.

- ````console```` blocks: each ``$ mutualize ...`` line runs (as ``python -m mutualize``)
  in one temporary folder per page, so a later command can read what an earlier one
  wrote; the lines up to the next ``$`` are its exact standard output.
- ````python```` blocks run in order as one script, as a reader pasting them would; a
  ````text```` block right after a python block is that block's exact output (a python
  block without one prints nothing).
"""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

DOCS = Path(__file__).resolve().parents[1] / "docs"
PAGES = ["research.md", "chitra-example.md"]
FENCE = re.compile(r"^```(\w*)\n(.*?)^```\n", re.S | re.M)
SEPARATOR = "---- next cell ----"


def blocks(page: str) -> list[tuple[str, str]]:
    return [(m.group(1), m.group(2)) for m in FENCE.finditer((DOCS / page).read_text())]


def env() -> dict[str, str]:
    return {**os.environ, "MUTUALIZE_NO_PROGRESS": "1", "COLUMNS": "100"}


def console_cases(page: str) -> list[tuple[str, str]]:
    cases: list[tuple[str, str]] = []
    for kind, body in blocks(page):
        if kind != "console":
            continue
        command: str | None = None
        output: list[str] = []
        for line in body.splitlines():
            if line.startswith("$ "):
                if command is not None:
                    cases.append((command, "\n".join(output)))
                command, output = line[2:], []
            else:
                output.append(line)
        if command is not None:
            cases.append((command, "\n".join(output)))
    return cases


@pytest.mark.parametrize("page", PAGES)
def test_console_blocks(page: str, tmp_path: Path) -> None:
    cases = console_cases(page)
    if page == "research.md":
        assert len(cases) >= 6
    for command, expected in cases:
        argv = shlex.split(command)
        assert argv[0] == "mutualize", command
        proc = subprocess.run(
            [sys.executable, "-m", "mutualize", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env(),
            check=False,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
        assert proc.stdout.rstrip("\n") == expected.rstrip("\n"), command


@pytest.mark.parametrize("page", PAGES)
def test_python_blocks(page: str, tmp_path: Path) -> None:
    cells: list[tuple[str, str]] = []
    found = blocks(page)
    for i, (kind, body) in enumerate(found):
        if kind != "python":
            continue
        following = found[i + 1] if i + 1 < len(found) else ("", "")
        cells.append((body, following[1] if following[0] == "text" else ""))
    assert cells, page
    script = f"\nprint({SEPARATOR!r})\n".join(body for body, _ in cells)
    path = tmp_path / "page.py"
    path.write_text(script, encoding="utf-8")
    proc = subprocess.run(
        [sys.executable, str(path)],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=env(),
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    outputs = proc.stdout.split(SEPARATOR + "\n")
    assert len(outputs) == len(cells)
    for (body, expected), got in zip(cells, outputs, strict=True):
        assert got.rstrip("\n") == expected.rstrip("\n"), body


def test_readme_research_section_runs(tmp_path: Path) -> None:
    """The README's research section: each command line of its bash block succeeds."""
    readme = (DOCS.parent / "README.md").read_text()
    section = readme.split("## Research on real ADL waves", 1)[1].split("\n## ", 1)[0]
    commands = [
        line.split("#", 1)[0].strip()
        for kind, body in ((m.group(1), m.group(2)) for m in FENCE.finditer(section))
        if kind == "bash"
        for line in body.splitlines()
        if line.strip()
    ]
    assert len(commands) == 3
    for command in commands:
        argv = shlex.split(command)
        assert argv[0] == "mutualize"
        proc = subprocess.run(
            [sys.executable, "-m", "mutualize", *argv[1:]],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env=env(),
            check=False,
        )
        assert proc.returncode == 0, f"{command}\n{proc.stderr}"
        assert proc.stdout
