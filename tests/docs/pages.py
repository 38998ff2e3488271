"""Read the documentation as a reader sees it: pages, their sections, tables and code blocks.

The tests in tests/docs compare what a page states with the source of truth (code, config,
workflows) and name the page in their messages; they never assert a sentence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
README = ROOT / "README.md"

_FENCE = re.compile(r"^```[^\n]*\n(.*?)^```", re.MULTILINE | re.DOTALL)


def slug(heading: str) -> str:
    """The anchor MkDocs' toc extension gives a heading (its default `slugify`)."""
    text = re.sub(r"[`*_\[\]()]", "", heading).strip().lower()
    text = re.sub(r"[^\w\s-]", "", text)
    return re.sub(r"[-\s]+", "-", text).strip("-")


@dataclass(frozen=True)
class Page:
    """One Markdown file, named by its path from the repository root."""

    path: Path

    @property
    def name(self) -> str:
        return str(self.path.relative_to(ROOT))

    @property
    def text(self) -> str:
        return self.path.read_text(encoding="utf-8")

    def prose(self) -> str:
        """The text without its code blocks (where a `#` is a shell comment, not a heading)."""
        return _FENCE.sub("", self.text)

    def headings(self) -> list[str]:
        return [m[2].strip() for m in re.finditer(r"^(#{1,6}) (.+)$", self.prose(), re.MULTILINE)]

    def anchors(self) -> set[str]:
        return {slug(h) for h in self.headings()}

    def section(self, heading: str) -> str:
        """The text under a heading, up to the next heading of the same or a higher level."""
        text = self.text
        match = re.search(rf"^(#+) {re.escape(heading)}\n", text, re.MULTILINE)
        assert match, f"{self.name} has no heading {heading!r}"
        level = len(match[1])
        rest = text[match.end() :]
        end = re.search(rf"^#{{1,{level}}} ", _blank_fences(rest), re.MULTILINE)
        return rest[: end.start()] if end else rest

    def code_blocks(self, heading: str | None = None) -> list[str]:
        return _FENCE.findall(self.section(heading) if heading else self.text)

    def table(self, heading: str) -> list[dict[str, str]]:
        """The first table under a heading, as rows of {column: cell} (cells stripped)."""
        lines = [line for line in self.section(heading).splitlines() if line.startswith("|")]
        assert len(lines) >= 2, f"{self.name}, {heading!r}: no table"
        header = _cells(lines[0])
        rows = []
        for line in lines[2:]:
            cells = _cells(line)
            assert len(cells) == len(header), f"{self.name}, {heading!r}: ragged row {line!r}"
            rows.append(dict(zip(header, cells, strict=True)))
        return rows


def _blank_fences(text: str) -> str:
    """Code blocks replaced by blank lines of the same length, so offsets stay valid."""
    return _FENCE.sub(lambda m: re.sub(r"[^\n]", " ", m[0]), text)


def _cells(line: str) -> list[str]:
    # A `|` inside backticks or escaped (`\|`) is part of a cell, not a separator.
    cells, cell, code = [], "", False
    body = line.strip()[1:-1] if line.strip().endswith("|") else line.strip()[1:]
    i = 0
    while i < len(body):
        char = body[i]
        if char == "\\" and body[i + 1 : i + 2] == "|":
            cell += "|"
            i += 2
            continue
        if char == "`":
            code = not code
        if char == "|" and not code:
            cells.append(cell.strip())
            cell = ""
        else:
            cell += char
        i += 1
    cells.append(cell.strip())
    return cells


def page(name: str) -> Page:
    """A page by its path under docs/ (or "README.md")."""
    path = README if name == "README.md" else DOCS / name
    assert path.is_file(), f"no page {name}"
    return Page(path)


def all_pages() -> list[Page]:
    """README.md and every page of the site."""
    return [Page(README), *(Page(p) for p in sorted(DOCS.rglob("*.md")))]


def code(cell: str) -> list[str]:
    """The `code` spans of a table cell or a line."""
    return re.findall(r"`([^`]+)`", cell)
