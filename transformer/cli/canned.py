"""Canned look-up answers from a --lookups FILE (run, explain, send), and what became of them: a
file whose entries match none of the URLs asked answers every look-up 404, which for a destination
that creates what it does not find means creating everything again. So the commands say when
look-ups matched no entry, and `send` refuses what such a miss would decide until one matches."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import TransformError
from ..runtime.lookups import shown_url

SHOWN_MISSES = 3  # URLs named in the warning: enough to see a wrong host or path


class CannedAnswers:
    """A lookup function answering from a file's entries (URL -> {status, body}); a URL with no
    entry answers 404. Counts what was asked; with ``refuse_misses``, a URL with no entry is the
    event's error for as long as no look-up has matched an entry (the file may be for another server)."""

    def __init__(self, answers: dict[str, Any], path: Path, hide: tuple[str, ...], refuse_misses: bool = False) -> None:
        self.answers, self.path, self.refuse_misses = answers, path, refuse_misses
        self.hide = hide  # the secret settings' values: a URL shown in a message never holds one
        self.asked = self.matched = self.refused = 0
        self.missed: list[str] = []  # the first few URLs that had no entry

    def __call__(self, request: dict[str, Any]) -> tuple[int, Any]:
        url = request["endpoint"]
        self.asked += 1
        answer = self.answers.get(url)
        if answer is not None:
            self.matched += 1
            return answer.get("status", 200), answer.get("body")
        if len(self.missed) < SHOWN_MISSES:
            self.missed.append(shown_url(url, self.hide))
        if self.refuse_misses and not self.matched:
            self.refused += 1
            raise TransformError(f"no entry of {self.path} answers GET {shown_url(url, self.hide)}, and no look-up so far matched one: not "
                                 "sending what a miss would decide (creating a customer, say); check the file's URLs, "
                                 "or pass --lookups-may-miss", 424)
        return 404, None

    def report(self) -> list[str]:
        """The warning when look-ups matched no entry (with the first URLs asked), else nothing."""
        misses = self.asked - self.matched
        if not misses:
            return []
        fates = [f"{self.refused} refused (see --lookups-may-miss)"] if self.refused else []
        fates += [f"{misses - self.refused} answered 404"] if misses > self.refused else []
        return [f"warning: {misses} of {self.asked} look-ups matched no entry of {self.path}"
                + (" (none matched: is the file for this server?)" if not self.matched else "")
                + f"; {', '.join(fates)}; first asked: {', '.join(self.missed)}"]

    def counts(self) -> str:
        return f"look-ups: {self.asked} asked, {self.matched} answered from {self.path}"
