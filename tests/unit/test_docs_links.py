"""README and docs/ link to each other: every relative link reaches a file and a heading."""

import re
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md")), ROOT / "bench" / "README.md"]
FENCE = re.compile(r"^```.*?^```", re.DOTALL | re.MULTILINE)
LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


def slug(heading: str) -> str:
    """The anchor GitHub gives a heading: lower case, punctuation dropped, spaces as hyphens."""
    return re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-")


def anchors(page: Path) -> set[str]:
    text = FENCE.sub("", page.read_text())
    return {slug(line.lstrip("#")) for line in text.splitlines() if re.match(r"#{1,6} ", line)}


def links(page: Path) -> list[str]:
    return LINK.findall(FENCE.sub("", page.read_text()))


def test_slugs_are_githubs() -> None:
    assert slug("`release`: the main job") == "release-the-main-job"
    assert slug("Your own project's variants") == "your-own-projects-variants"
    assert slug("Set-up: two commands") == "set-up-two-commands"


@pytest.mark.parametrize("page", PAGES, ids=lambda page: str(page.relative_to(ROOT)))
def test_every_relative_link_reaches_a_file_and_its_heading(page: Path) -> None:
    for link in links(page):
        if re.match(r"[a-z]+:", link):
            continue  # https:, mailto:
        path, _, anchor = link.partition("#")
        target = (page.parent / path).resolve() if path else page
        assert target.exists(), f"{page.relative_to(ROOT)}: {link} reaches no file"
        if anchor:
            assert anchor in anchors(target), f"{page.relative_to(ROOT)}: {link}: no such heading"


def test_readme_links_to_every_page_of_docs() -> None:
    linked = {link.partition("#")[0] for link in links(ROOT / "README.md")}
    for page in sorted((ROOT / "docs").glob("*.md")):
        assert str(page.relative_to(ROOT)) in linked, f"README does not link to {page.name}"


def test_the_link_check_catches_a_heading_that_does_not_exist(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("# Title\n\n[there](#title) [nowhere](#no-such-heading)\n")
    assert links(page) == ["#title", "#no-such-heading"]
    assert anchors(page) == {"title"}
