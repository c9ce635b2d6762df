"""Every link in the README and docs/ resolves inside the repository: a clone is self-contained."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import ROOT

PAGES = sorted(
    [ROOT / "README.md", ROOT / "CONTRIBUTING.md", ROOT / "CHANGELOG.md", *ROOT.glob("docs/*.md")]
)
FENCE = re.compile(r"^(```|~~~).*?^\1", re.MULTILINE | re.DOTALL)
CODE = re.compile(r"`[^`\n]*`")
INLINE = re.compile(r"!?\[[^\]\n]*\]\(\s*<?([^)\s>]+)>?(?:\s+\"[^\"]*\")?\s*\)")
REFERENCE = re.compile(r"^\s*\[[^\]\n]+\]:\s*<?(\S+?)>?(?:\s+\"[^\"]*\")?\s*$", re.MULTILINE)
HTML = re.compile(r"""<(?:a|img)\b[^>]*?\b(?:href|src)=["']([^"']+)["']""", re.IGNORECASE)
EXTERNAL = re.compile(r"^[a-z][a-z0-9+.-]*:", re.IGNORECASE)  # https:, mailto:, tel:


def prose(page: Path) -> str:
    """The page without code, where a path is an example, not a link."""
    return CODE.sub("", FENCE.sub("", page.read_text(encoding="utf-8")))


def links(page: Path) -> list[str]:
    text = prose(page)
    return [m.group(1) for pattern in (INLINE, REFERENCE, HTML) for m in pattern.finditer(text)]


def anchors(page: Path) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces as hyphens."""
    found: dict[str, int] = {}
    result = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*\s*$", prose(page), re.MULTILINE):
        slug = re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")
        count = found.get(slug, 0)
        found[slug] = count + 1
        result.add(slug if count == 0 else f"{slug}-{count}")
    return result


def problems(page: Path, root: Path = ROOT) -> list[str]:
    """Each relative link of ``page`` that leaves ``root``, names no file or no heading."""
    found = []
    for target in links(page):
        if EXTERNAL.match(target):
            continue
        path, _, anchor = target.partition("#")
        resolved = (page.parent / path).resolve() if path else page
        if "shared" in Path(path).parts or not resolved.is_relative_to(root):
            found.append(f"{target}: outside the repository")
        elif not resolved.exists():
            found.append(f"{target}: no such file")
        elif anchor and resolved.suffix == ".md" and anchor not in anchors(resolved):
            found.append(f"{target}: no such heading")
    return found


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_resolves_inside_the_repository(page: Path) -> None:
    assert not problems(page)


def test_nothing_points_at_the_shared_folder() -> None:
    """The old README sent readers to ../shared/DESIGN.md, which a clone does not have."""
    for page in PAGES:
        assert "DESIGN.md" not in page.read_text(encoding="utf-8"), page
        assert not [t for t in links(page) if "../shared" in t], page


def test_the_check_finds_what_it_is_for(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / "docs").mkdir(parents=True)
    (repo / "docs" / "a.md").write_text("# Set-up and tests\n", encoding="utf-8")
    page = repo / "README.md"
    page.write_text(
        "See [design](../shared/DESIGN.md), [gone](docs/gone.md), [b](docs/a.md#nowhere),\n"
        '[fine](docs/a.md#set-up-and-tests), <a href="../outside.md">x</a>,\n'
        "[web](https://example.org/x) and `[code](nowhere.md)`.\n\n[ref]: docs/missing.md\n",
        encoding="utf-8",
    )
    assert problems(page, repo) == [
        "../shared/DESIGN.md: outside the repository",
        "docs/gone.md: no such file",
        "docs/a.md#nowhere: no such heading",
        "docs/missing.md: no such file",
        "../outside.md: outside the repository",
    ]
    assert links(ROOT / "README.md").count("docs/architecture.md") >= 1
    assert "the-data-folder" in anchors(ROOT / "README.md")
