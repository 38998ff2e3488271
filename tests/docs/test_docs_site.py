"""The site builds strictly and offline, every page is reachable, and links into it resolve."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.docs.pages import DOCS, ROOT, all_pages, page

MKDOCS = [sys.executable, "-m", "mkdocs"]


class _Loader(yaml.SafeLoader):
    """mkdocs.yml uses MkDocs' `!ENV` tag; read it as its default."""


_Loader.add_constructor("!ENV", lambda loader, node: None)


def mkdocs_config() -> dict[str, object]:
    config: dict[str, object] = yaml.load((ROOT / "mkdocs.yml").read_text(), Loader=_Loader)  # noqa: S506 - a SafeLoader subclass
    return config


def nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, list):
        return [p for item in nav for p in nav_pages(item)]
    if isinstance(nav, dict):
        return [p for value in nav.values() for p in nav_pages(value)]
    return []


def build(project: Path, site: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MKDOCS, "build", "--strict", "--site-dir", str(site)],
        cwd=project, capture_output=True, text=True, check=False,
        env={**os.environ, "NO_MKDOCS_2_WARNING": "1"},
    )  # fmt: skip


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("site")
    result = build(ROOT, out)
    assert result.returncode == 0, result.stderr
    return out


@pytest.mark.slow
def test_a_broken_anchor_fails_the_build(tmp_path: Path) -> None:
    # The point of --strict and `validation` in mkdocs.yml: a link to a heading that does not
    # exist (a renamed section) must fail `make docs`, hence `make lint`, CI and the docs check.
    shutil.copy(ROOT / "mkdocs.yml", tmp_path / "mkdocs.yml")
    shutil.copytree(DOCS, tmp_path / "docs")
    index = tmp_path / "docs" / "index.md"
    index.write_text(index.read_text() + "\n[gone](api.md#no-such-heading)\n")
    result = build(tmp_path, tmp_path / "site")
    assert result.returncode != 0
    assert "no-such-heading" in result.stderr


def test_the_makefile_builds_strictly_and_not_quietly() -> None:
    # `mkdocs build --quiet` hides warnings from --strict's count: the build then passes a
    # broken anchor (seen with MkDocs 1.6).
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = re.search(r"^docs:.*\n\t(.*)$", makefile, re.MULTILINE)
    assert recipe, "the Makefile has a docs target"
    assert "mkdocs build --strict" in recipe[1]
    assert "--quiet" not in recipe[1]
    assert " -q" not in recipe[1]


def test_the_site_loads_nothing_from_elsewhere(site: Path) -> None:
    # Readers behind a proxy (and these machines) reach no CDN or font service: every script,
    # stylesheet, image and font comes from the site itself.
    external = re.compile(
        r"""<(?:script|img|source)[^>]*\bsrc=["']https?://|<link[^>]*\bhref=["']https?://[^"']*["'][^>]*rel=["']stylesheet|<link[^>]*rel=["'](?:stylesheet|preconnect|preload)["'][^>]*\bhref=["']https?://"""
    )
    pages = list(site.rglob("*.html"))
    assert len(pages) >= len(nav_pages(mkdocs_config()["nav"]))
    for html in pages:
        text = html.read_text(encoding="utf-8")
        assert not external.search(text), f"{html.relative_to(site)} loads an external asset"
    for css in site.rglob("*.css"):
        assert "fonts.googleapis" not in css.read_text(encoding="utf-8"), css.name


def test_every_page_is_in_the_nav_and_the_readme_links_every_one() -> None:
    nav = nav_pages(mkdocs_config()["nav"])
    on_disk = sorted(str(p.relative_to(DOCS)) for p in DOCS.rglob("*.md"))
    assert sorted(nav) == on_disk, "mkdocs.yml nav vs docs/"
    readme = page("README.md").text
    linked = set(re.findall(r"\]\(docs/([\w/.-]+\.md)(?:#[\w-]+)?\)", readme))
    assert set(nav) - {"index.md"} <= linked, "README.md: the docs table must link every page"


def test_links_from_the_readme_into_the_docs_resolve() -> None:
    readme = page("README.md")
    for target, anchor in re.findall(r"\]\(docs/([\w/.-]+\.md)(?:#([\w-]+))?\)", readme.text):
        linked = page(target)
        if anchor:
            assert anchor in linked.anchors(), f"README.md links {target}#{anchor}, which is gone"


def tracked_files() -> list[str]:
    return subprocess.run(
        ["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout.split()


POINTER = re.compile(r"\bdocs/((?:[\w-]+/)*[\w-]+\.md)(?:#([\w-]+))?")


def test_pointers_from_code_to_the_docs_resolve() -> None:
    # Comments and messages send readers to a page (and a heading): both must exist.
    sources = [p for p in tracked_files() if not p.startswith("docs/") and not p.endswith(".md")]
    found = 0
    for name in sources:
        path = ROOT / name
        if path.suffix not in {".py", ".sh", ".yml", ".yaml", ".toml", ""} or not path.is_file():
            continue
        for target, anchor in POINTER.findall(path.read_text(encoding="utf-8", errors="replace")):
            if not (DOCS / target).is_file():
                continue  # a path in a test fixture, not a pointer
            found += 1
            if anchor:
                assert anchor in page(target).anchors(), f"{name} points at {target}#{anchor}"
    assert found, "no pointer found: the pattern is wrong"


def test_no_pointer_names_a_readme_section_that_moved() -> None:
    # The README is a quick start now: `README, "<Section>"` in code must name one of its
    # headings, or point at the docs page instead.
    headings = set(page("README.md").headings())
    pointer = re.compile(r"\bREADME(?:\.md)?(?:, |: | \")\"?([A-Z][^\"(),;\n]*)")
    for name in tracked_files():
        path = ROOT / name
        if name.startswith("docs/") or name.endswith(".md") or not path.is_file():
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        for section in pointer.findall(text):
            assert section.strip() in headings, f"{name} points at README {section!r}"


def test_no_bold_pseudo_headings() -> None:
    # A paragraph that opens with a bold phrase is a heading nobody can link to.
    for doc in all_pages():
        for line in doc.prose().splitlines():
            assert not re.match(r"^\*\*[^*]+\*\*[.:]?(\s|$)", line), f"{doc.name}: {line[:60]!r}"
