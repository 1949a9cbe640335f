"""MkDocs hook: a pipe inside code in a table row, written ``\\|`` for GitHub, shows as ``|`` on the site.

GitHub's tables need the escape even inside a code span (and drop the backslash); Python-Markdown's
tables leave code spans whole and would print the backslash. So the pages keep GitHub's form, and
the site gets it without the backslash.
"""
from __future__ import annotations

import re
from typing import Any

_CODE = re.compile(r"`[^`\n]*`")


def on_page_markdown(markdown: str, **_: Any) -> str:
    """MkDocs' page event: in each table row (a line starting with ``|``), ``\\|`` in code becomes ``|``."""
    lines = markdown.split("\n")
    for i, line in enumerate(lines):
        if line.startswith("|") and "\\|" in line:
            lines[i] = _CODE.sub(lambda code: code.group(0).replace("\\|", "|"), line)
    return "\n".join(lines)
