"""The repository stands on its own: no file in it points at anything a reader of the repository cannot open."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from tests.conftest import APP_ROOT

_RELATIVE = re.compile(r"(?<![.\w])(?:\.\./)+[\w.-]+")  # ../x, ../../x; not the "..." of an elided path
_MARKDOWN_NAME = re.compile(r"[\w.-]+\.md\b")


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
    """No relative path leaves the repository (tests are exempt: they send hostile paths as data), no absolute path
    names the folder the repository sits in, and every Markdown page a file names is one of the repository's."""
    files = [path for path in repository_files() if path.is_file()]
    pages = {path.name for path in files if path.suffix == ".md"}
    beside = f"{APP_ROOT.parent}/"
    found = []
    for path in files:
        try:
            text = path.read_text(encoding="utf-8")
        except UnicodeDecodeError:
            continue
        name = path.relative_to(APP_ROOT)
        if name.parts[0] != "tests":
            found += [
                f"{name}: {pointer}"
                for pointer in _RELATIVE.findall(text)
                if not (path.parent / pointer).resolve().is_relative_to(APP_ROOT)
            ]
        if beside in text:
            found.append(f"{name}: {beside}")
        found += [f"{name}: {page}" for page in _MARKDOWN_NAME.findall(text) if page not in pages]
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
