"""Errors the library raises: one for bad mappings (load time), one for bad events (run time)."""
from __future__ import annotations

from dataclasses import dataclass


class TransformError(Exception):
    """An event or its settings cannot be turned into a request.

    ``status_code`` follows HTTP: 400 for a bad event or bad settings, the look-up's own status
    when a look-up answered with an error. Messages name the rule and the field, never a setting's
    value.
    """

    def __init__(self, message: str, status_code: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code


@dataclass(frozen=True)
class Problem:
    """One mistake in a mapping file, located by file, line and YAML path."""

    file: str
    line: int | None
    yaml_path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line is not None else self.file
        return f"{where}: {self.yaml_path or '(top)'}: {self.message}"


class MappingCopyWarning(UserWarning):
    """A destination name was loaded from the working directory's ``mappings/`` while the installed
    package holds a different copy of it (said once per name and process)."""


class MappingError(Exception):
    """A mapping folder has one or more mistakes; ``problems`` lists each of them."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))
