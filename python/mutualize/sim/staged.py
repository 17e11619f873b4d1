"""Files written all or nothing: under temporary names, renamed once all are written."""

from __future__ import annotations

import os
import uuid
from pathlib import Path

__all__ = ["StagedFiles"]


class StagedFiles:
    """Write files under temporary names in ``folder``; rename them all on success,
    delete them on failure.

    ``with StagedFiles(folder) as stage: write(stage("name.csv"))``.
    """

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        self.pending: list[tuple[Path, Path]] = []

    def __call__(self, name: str) -> Path:
        # A unique hidden name, created by the writer itself so the file gets the usual
        # permissions (mkstemp's would be owner-only).
        temp = self.folder / f".{name}.{uuid.uuid4().hex[:12]}.part"
        self.pending.append((temp, self.folder / name))
        return temp

    def __enter__(self) -> StagedFiles:
        return self

    def __exit__(self, kind: object, error: object, trace: object) -> None:
        try:
            if kind is None:
                for temp, final in self.pending:
                    os.replace(temp, final)
        finally:
            # After a failure (or a failed rename) no temporary file stays behind.
            for temp, _ in self.pending:
                temp.unlink(missing_ok=True)
