"""The repository stands on its own: no file in it points at notes that live outside it."""

from __future__ import annotations

import subprocess
from pathlib import Path

from tests.conftest import APP_ROOT

# The team's reference notes sit beside the repository, not in it: a reader of the repository cannot open them.
OUTSIDE = ("../shared", "/work/", "graph-notes.md", "platform-notes.md", "getVirtualAppointmentJoinWebUrl.md")


def repository_files() -> list[Path]:
    """The files git tracks; without git, every file outside hidden and generated folders (.ci is the repo's)."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=APP_ROOT, capture_output=True, check=True, timeout=30
        ).stdout.decode()
        return [APP_ROOT / name for name in listed.split("\0") if name]
    except (OSError, subprocess.SubprocessError):
        return [
            path
            for path in APP_ROOT.rglob("*")
            if path.is_file()
            and not any(
                (part.startswith(".") and part != ".ci") or part == "__pycache__"
                for part in path.relative_to(APP_ROOT).parts[:-1]
            )
        ]


def test_no_file_points_outside_the_repository():
    found = []
    for path in repository_files():
        if path == Path(__file__) or not path.is_file():
            continue
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        found += [f"{path.relative_to(APP_ROOT)}: {pointer}" for pointer in OUTSIDE if pointer in text]
    assert found == []
