"""Suggestions for misspelt names in mapping files: "did you mean `path`?"."""
from __future__ import annotations

from collections.abc import Iterable


def closest(word: str, choices: Iterable[str]) -> str | None:
    """The closest of ``choices`` to ``word``, or None when none is close."""
    import difflib  # only when a name is wrong: not a start-up cost

    close = difflib.get_close_matches(word, sorted(set(choices)), n=1, cutoff=0.6)
    return close[0] if close else None


def did_you_mean(word: str, choices: Iterable[str]) -> str:
    """`` (did you mean `x`?)`` for the closest of ``choices`` to ``word``, or ``""`` when none is close."""
    close = closest(word, choices)
    return f" (did you mean `{close}`?)" if close else ""
