"""Every code block of the README and the docs runs, as a user would paste it.

- ``python`` blocks: written to a script file in an empty folder and run there.
- ``bash``/``sh``/``shell``/``console`` blocks: run by bash in an empty folder, the
  installed ``mutualize`` on the PATH and ``python``/``python3`` the interpreter under
  test; lines (or ``&&`` parts) that install or build (``pip install``, ``bash
  scripts/test``, ``bash scripts/wheel``) are left out: CI runs those itself.
- ``toml`` blocks: must parse; one shaped like a scenario (``[[market]]``) must load.
- Untagged or ``text`` blocks are output, diagrams or file trees: never run, so one that
  looks like a command or code fails here until it gets its language.

A block that must not run says so on its first line, visibly, as a comment with its
reason: ``# not run: <why>``. Keep those rare.

The README is also the package's page on PyPI, where relative links break: every link
and image in it is absolute, and those into this repository name files that exist.
The example scenarios' own README (written by ``mutualize init``) runs in a folder
holding the examples, as its reader's folder would.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from mutualize import examples

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib  # type: ignore[import-not-found, unused-ignore]

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
REPOSITORY = "https://github.com/mutualize/mutualize"
TIMEOUT = 120  # seconds for one block; each should take a few

PYTHON = ("python", "py")
SHELL = ("bash", "sh", "shell", "console")
TEXT = ("", "text", "txt")
# Commands left out of shell blocks: installs and builds, which CI runs as its own steps.
SKIPPED_COMMANDS = re.compile(
    r"^(?:(?:python3?|py) -m )?pip3? install\b|^(?:bash )?scripts/(?:test|wheel)\b"
)
NOT_RUN = re.compile(r"^#\s*not run:\s*(?P<why>.*)$")
LOOKS_LIKE_CODE = re.compile(r"^\s*(?:\$ |import |from \S+ import |mutualize |python3? )")


#: Pages read as notebooks (python blocks run in order, outputs compared) by their own
#: test, which runs every block of theirs; this harness leaves them to it.
RUN_IN_ORDER = {
    "docs/research.md": "test_research_docs",
    "docs/chitra-example.md": "test_research_docs",
}


def _documents() -> dict[Path, Callable[[Path], None] | None]:
    """Markdown files whose blocks run -> what prepares each block's folder."""
    docs: dict[Path, Callable[[Path], None] | None] = {}
    if README.exists():
        docs[README] = None
        docs.update(
            {
                p: None
                for p in sorted((ROOT / "docs").rglob("*.md"))
                if p.relative_to(ROOT).as_posix() not in RUN_IN_ORDER
            }
        )
    docs[examples.path("README.md")] = _write_examples
    return docs


def _write_examples(folder: Path) -> None:
    examples.write(folder)


@dataclass(frozen=True)
class Block:
    file: Path
    line: int  # of the opening fence, 1-based
    language: str
    code: str

    @property
    def label(self) -> str:
        try:
            name = self.file.relative_to(ROOT).as_posix()
        except ValueError:
            name = f"mutualize/examples/{self.file.name}"
        return f"{name}:{self.line}:{self.language or 'text'}"


FENCE = re.compile(r"^(?P<indent> {0,3})(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")


def code_blocks(path: Path) -> list[Block]:
    """The fenced code blocks of a Markdown file (CommonMark fences), dedented."""
    blocks: list[Block] = []
    lines = path.read_text(encoding="utf-8").splitlines()
    i = 0
    while i < len(lines):
        opening = FENCE.match(lines[i])
        if not opening:
            i += 1
            continue
        fence, indent = opening["fence"], len(opening["indent"])
        info = opening["info"].strip()
        language = info.split()[0].lower() if info else ""
        body: list[str] = []
        j = i + 1
        while j < len(lines):
            stripped = lines[j].strip()
            if stripped.startswith(fence[0] * len(fence)) and set(stripped) == {fence[0]}:
                break
            body.append(lines[j][indent:] if lines[j][:indent].isspace() else lines[j])
            j += 1
        else:
            raise AssertionError(f"{path}:{i + 1}: code block never closed")
        blocks.append(Block(path, i + 1, language, "\n".join(body) + "\n"))
        i = j + 1
    return blocks


def _all_blocks() -> list[tuple[Block, Callable[[Path], None] | None]]:
    return [(b, setup) for path, setup in _documents().items() for b in code_blocks(path)]


def _runnable() -> list[Any]:
    params: list[Any] = []
    for block, setup in _all_blocks():
        if block.language in PYTHON + SHELL + ("toml",):
            params.append(pytest.param(block, setup, id=block.label))
    return params


def _not_run_reason(block: Block) -> str | None:
    first = block.code.lstrip("\n").splitlines()[0] if block.code.strip() else ""
    marker = NOT_RUN.match(first.strip())
    return marker["why"].strip() if marker else None


def _environment() -> dict[str, str]:
    env = dict(os.environ)
    scripts = sysconfig.get_path("scripts")
    env["PATH"] = os.pathsep.join([scripts, os.path.dirname(sys.executable), env["PATH"]])
    env["MPLBACKEND"] = "Agg"  # plots written to files, never a window
    env.pop("PYTHONPATH", None)  # what a user has: the installed package only
    return env


def shell_script(code: str) -> str:
    """A shell block as bash runs it here: continuations joined, installs left out. In a
    transcript (a block whose commands start with ``$ ``), only the ``$`` lines run: the
    others are what the command printed."""
    transcript = any(line.startswith("$ ") for line in code.splitlines())
    logical: list[str] = []
    pending = ""
    for raw in code.splitlines():
        if raw.rstrip().endswith("\\"):
            pending += raw.rstrip()[:-1] + " "
            continue
        logical.append(pending + raw)
        pending = ""
    if pending:
        logical.append(pending)
    kept: list[str] = []
    for line in logical:
        text = line.strip()
        if transcript and not line.startswith("$ "):
            continue
        if text.startswith("$ "):
            text = text[2:]
        if not text or text.startswith("#"):
            continue
        parts = [p.strip() for p in text.split("&&")]
        parts = [p for p in parts if not SKIPPED_COMMANDS.match(p)]
        if parts:
            kept.append(" && ".join(parts))
    python = sys.executable.replace("\\", "/")
    prelude = [
        "set -euo pipefail",
        # The interpreter under test, whatever `python` is on this machine's PATH.
        f'python() {{ "{python}" "$@"; }}',
        f'python3() {{ "{python}" "$@"; }}',
        # A console script where pip put one; `python -m mutualize` otherwise.
        f'command -v mutualize >/dev/null || mutualize() {{ "{python}" -m mutualize "$@"; }}',
    ]
    return "\n".join(prelude + kept) + "\n"


@pytest.mark.parametrize(("block", "setup"), _runnable())
def test_code_block_runs(
    block: Block, setup: Callable[[Path], None] | None, tmp_path: Path
) -> None:
    reason = _not_run_reason(block)
    if reason is not None:
        assert reason, f"{block.label}: '# not run:' needs its reason"
        pytest.skip(f"{block.label}: not run: {reason}")
    if setup is not None:
        setup(tmp_path)
    if block.language == "toml":
        data = tomllib.loads(block.code)
        if "market" in data:
            from mutualize.sim import Scenario

            Scenario.from_toml_text(block.code, source=block.label, base_dir=tmp_path).build()
        return
    if block.language in PYTHON:
        script = tmp_path / "snippet.py"
        script.write_text(block.code, encoding="utf-8")
        command = [sys.executable, script.name]
    else:
        script = tmp_path / "snippet.sh"
        script.write_text(shell_script(block.code), encoding="utf-8")
        command = ["bash", script.name]
    try:
        done = subprocess.run(
            command,
            cwd=tmp_path,
            env=_environment(),
            capture_output=True,
            text=True,
            timeout=TIMEOUT,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail(f"{block.label}: still running after {TIMEOUT} s; make it smaller")
    assert done.returncode == 0, (
        f"{block.label} failed (exit {done.returncode}) in an empty folder:\n"
        f"--- block ---\n{script.read_text()}\n--- stdout ---\n{done.stdout[-3000:]}\n"
        f"--- stderr ---\n{done.stderr[-5000:]}"
    )


def test_pages_left_to_their_own_test_are_run_there() -> None:
    import importlib

    for page, module in RUN_IN_ORDER.items():
        if (ROOT / page).exists():
            pages = importlib.import_module(f"tests.{module}").PAGES
            assert Path(page).name in pages, f"{page} is run by no test"


def test_transcripts_run_only_their_commands() -> None:
    script = shell_script("$ mutualize rules\naccount  profit\n0  8.0\n")
    assert script.splitlines()[-1] == "mutualize rules"


def test_every_block_has_a_language_that_is_run_or_is_plain_text() -> None:
    known = PYTHON + SHELL + TEXT + ("toml",)
    for block, _ in _all_blocks():
        assert block.language in known, f"{block.label}: no runner for {block.language!r}"
        if block.language in TEXT:
            code_like = [ln for ln in block.code.splitlines() if LOOKS_LIKE_CODE.match(ln)]
            assert not code_like, (
                f"{block.label}: looks like code ({code_like[0]!r}); tag its language "
                "so the tests run it"
            )


def test_the_readme_has_blocks_of_each_kind() -> None:
    # The harness must see the README's snippets: a parser that found none would pass.
    if not README.exists():
        pytest.skip("not a source checkout")
    languages = [b.language for b in code_blocks(README)]
    assert "python" in languages
    assert "bash" in languages
    assert len(languages) >= 6


def test_shell_blocks_leave_out_installs_and_join_continuations() -> None:
    script = shell_script(
        "python3 -m pip install . && python3 -m mutualize demo   # comment\n"
        "bash scripts/test\n"
        "pip install 'mutualize[dask]'\n"
        "mutualize sweep a.toml --seeds 1..2 \\\n    --backend threads\n"
    )
    body = script.splitlines()[4:]
    assert body == [
        "python3 -m mutualize demo   # comment",
        "mutualize sweep a.toml --seeds 1..2      --backend threads",
    ]


def test_a_block_that_must_not_run_says_why_on_its_first_line() -> None:
    def block(code: str) -> Block:
        return Block(README, 1, "python", code)

    assert _not_run_reason(block("# not run: needs a Ray cluster\nimport ray\n")) == (
        "needs a Ray cluster"
    )
    assert _not_run_reason(block("# not run:\nx = 1\n")) == ""  # no reason: the test fails
    assert _not_run_reason(block("x = 1  # not run: only on the first line\n")) is None
    assert _not_run_reason(block("")) is None


def test_code_blocks_are_found_with_their_language_and_indentation(tmp_path: Path) -> None:
    doc = tmp_path / "doc.md"
    doc.write_text(
        "text\n\n```python\nx = 1\n```\n\n- item\n\n   ```bash\n   echo hi\n   ```\n\n"
        "````\n```\nnested\n```\n````\n"
    )
    found = [(b.line, b.language, b.code) for b in code_blocks(doc)]
    assert found == [
        (3, "python", "x = 1\n"),
        (9, "bash", "echo hi\n"),
        (13, "", "```\nnested\n```\n"),
    ]


# --------------------------------------------------------------------------- links

LINK = re.compile(r"!?\[[^\]]*\]\((?P<target>[^)\s]+)(?:\s+\"[^\"]*\")?\)")
HTML_LINK = re.compile(r"<(?:a|img)\b[^>]*\b(?:href|src)=\"(?P<target>[^\"]+)\"", re.I)
IN_REPO = re.compile(
    re.escape(REPOSITORY) + r"/(?:blob|tree)/main/(?P<path>[^#?)\s\"]*)"
    r"|https://raw\.githubusercontent\.com/mutualize/mutualize/main/(?P<raw>[^#?)\s\"]*)"
)


def _readme_without_code() -> str:
    text = README.read_text(encoding="utf-8")
    for block in code_blocks(README):
        text = text.replace(block.code, "")
    return text


def test_readme_links_are_absolute_for_the_package_page() -> None:
    if not README.exists():
        pytest.skip("not a source checkout")
    text = _readme_without_code()
    targets = [m["target"] for m in LINK.finditer(text)] + [
        m["target"] for m in HTML_LINK.finditer(text)
    ]
    assert targets, "the README has no links at all?"
    relative = [t for t in targets if not re.match(r"https://|mailto:", t)]
    assert not relative, f"relative links break on PyPI: {relative}"


def test_readme_links_into_the_repository_name_files_that_exist() -> None:
    if not README.exists():
        pytest.skip("not a source checkout")
    text = _readme_without_code()
    checked = 0
    for match in IN_REPO.finditer(text):
        path = (match["path"] if match["path"] is not None else match["raw"]).rstrip("/")
        if path:
            assert (ROOT / path).exists(), f"README links to {path}, which does not exist"
            checked += 1
    assert checked > 0
