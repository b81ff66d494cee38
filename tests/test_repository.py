"""The repository stands on its own: no file in it points at notes that live outside it."""

from __future__ import annotations

import re
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


README_MAX_LINES = 300  # read in ten minutes; engineering notes live beside what they document


def test_readme_is_short_and_every_relative_link_resolves():
    """Every page the README set links to exists, and so does the heading a link names."""
    readme = APP_ROOT / "README.md"
    assert len(readme.read_text(encoding="utf-8").splitlines()) <= README_MAX_LINES
    broken = []
    for page in [readme, *APP_ROOT.glob("*/README.md"), *APP_ROOT.glob("docs/*.md")]:
        for target in re.findall(r"\]\(([^)\s]+)\)", page.read_text(encoding="utf-8")):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            linked = (page.parent / path).resolve() if path else page
            if not linked.exists() or (anchor and anchor not in anchors(linked)):
                broken.append(f"{page.relative_to(APP_ROOT)} -> {target}")
    assert broken == []


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    if page.suffix != ".md":
        return set()
    headings = re.findall(r"^#+ (.+)$", page.read_text(encoding="utf-8"), flags=re.M)
    return {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}
