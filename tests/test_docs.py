"""The documentation holds together: the README stays a short front page, every relative link and picture in
README.md and docs/*.md leads somewhere that exists (down to the heading a link names), every page of docs/
is reachable from the README, and the pictures stay small."""
from __future__ import annotations

import pathlib
import re

import pytest

from tests.conftest import ROOT

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
FENCE = re.compile(r"^```.*?^```", re.S | re.M)
CODE_SPAN = re.compile(r"`[^`\n]*`")
LINK = re.compile(r"!?\[(?:[^\[\]]|\[[^\[\]]*\])*\]\(([^)\s]+)(?:\s+\"[^\"]*\")?\)")


def prose(page: pathlib.Path) -> str:
    """The page without fenced code blocks (a `# comment` in a shell example is not a heading)."""
    return FENCE.sub("", page.read_text())


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation (and code backticks) dropped, spaces to hyphens."""
    text = re.sub(r"\[([^\]]*)\]\([^)]*\)", r"\1", heading.strip().lower())   # a link in a heading: its text
    return re.sub(r"[^\w\- ]", "", text).replace(" ", "-")


def anchors(page: pathlib.Path) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in re.findall(r"^#{1,6}\s+(.+?)\s*#*$", prose(page), re.M):
        base = slug(heading)
        count = seen.get(base, 0)
        out.add(base if count == 0 else f"{base}-{count}")   # GitHub numbers repeated headings
        seen[base] = count + 1
    return out


def links(page: pathlib.Path) -> list[str]:
    """The targets of the page's links and pictures, outside code."""
    text = CODE_SPAN.sub("", prose(page))
    return LINK.findall(text)


def relative(target: str) -> bool:
    return not re.match(r"^[a-z][a-z0-9+.-]*:", target, re.I)   # not http:, https:, mailto: …


def test_the_readme_is_a_short_front_page():
    lines = (ROOT / "README.md").read_text().splitlines()
    assert len(lines) <= 200, f"README.md has {len(lines)} lines; move detail into docs/ (at most 200)"


@pytest.mark.parametrize("page", PAGES, ids=lambda p: str(p.relative_to(ROOT)))
def test_every_relative_link_and_picture_exists(page):
    broken = []
    targets = links(page)
    assert targets, f"no links found in {page.name}: the link pattern is broken"
    for target in filter(relative, targets):
        path, _, anchor = target.partition("#")
        file = (page.parent / path).resolve() if path else page
        if not file.exists():
            broken.append(f"{target}: {file.relative_to(ROOT) if file.is_relative_to(ROOT) else file} is missing")
        elif anchor and file.suffix == ".md" and anchor not in anchors(file):
            broken.append(f"{target}: no heading #{anchor} in {file.relative_to(ROOT)}")
    assert not broken, f"{page.relative_to(ROOT)}:\n  " + "\n  ".join(broken)


def test_every_docs_page_is_reachable_from_the_readme():
    linked = {(ROOT / target.partition("#")[0]).resolve() for target in links(ROOT / "README.md")
              if relative(target) and target.partition("#")[0]}
    missing = [p.name for p in PAGES[1:] if p.resolve() not in linked]
    assert not missing, f"docs pages the README does not link to: {missing}"


def test_the_pictures_are_small_and_all_shown():
    pictures = sorted((ROOT / "docs" / "img").iterdir())
    assert pictures
    large = [f"{p.name}: {p.stat().st_size // 1024} KB" for p in pictures if p.stat().st_size > 300 * 1024]
    assert not large, f"pictures over 300 KB: {large}"
    used = {(page.parent / target).resolve() for page in PAGES for target in links(page) if relative(target)}
    unused = [p.name for p in pictures if p.resolve() not in used]
    assert not unused, f"pictures in docs/img that no page shows or links to: {unused}"


def test_the_checker_finds_a_broken_link_and_a_missing_heading(tmp_path):
    """The checks above can fail: a missing file and a missing heading are both reported."""
    page = tmp_path / "page.md"
    page.write_text("# A title: with `code`\n\n[ok](#a-title-with-code) [gone](nowhere.md) [bad](#no-such)\n"
                    "```sh\n# not a heading\n[not a link](skipped.md)\n```\n")
    assert anchors(page) == {"a-title-with-code"}
    assert links(page) == ["#a-title-with-code", "nowhere.md", "#no-such"]
    assert not (tmp_path / "nowhere.md").exists()
