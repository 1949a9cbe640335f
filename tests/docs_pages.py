"""The documentation the tests read: the README and every page of the site under ``docs/``.

Examples moved from the README into the pages; the tests that run them find them here, so an
example in any page is run wherever it lives.
"""
from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
README = ROOT / "README.md"


def pages() -> list[Path]:
    """Every Markdown page of the site, in a stable order."""
    return sorted(DOCS.rglob("*.md"))


def page(name: str) -> str:
    """One page's text, by its path under ``docs/`` (``"language/rules.md"``)."""
    return (DOCS / name).read_text(encoding="utf-8")


def blocks(text: str, info: str) -> list[str]:
    """The fenced code blocks of ``text`` whose info string is exactly ``info`` (``python``, ``sh``)."""
    return re.findall(rf"^```{re.escape(info)}\n(.*?)^```", text, flags=re.S | re.M)

