"""What the studio works on: one mapping folder, its fixtures, and the last version that loaded.

Nothing here knows HTTP (``app.py`` serves it); nothing here knows the engine's rules either: it
loads with ``Destination.from_folder``, explains with ``Destination.explain`` and runs fixtures with
``transformer.fixtures``, as the ``check``, ``explain`` and ``test`` commands do.

Files are named by the page only as names the workspace listed itself (``mapping_files``,
``fixture_names``); a name not listed is refused, and a listed file whose real path leaves its folder
(a symlink out) is never listed. So nothing is read or written outside the chosen folders.
"""
from __future__ import annotations

import difflib
import json
import threading
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..cli import fixtures
from ..errors import MappingError, Problem
from ..runtime.destination import Destination
from ..runtime.explain import REDACTED
from ..runtime.settings import secret_forms

MAPPING_SUFFIXES = (".yaml", ".yml")


class StudioError(Exception):
    """A request the workspace refuses; ``status`` is the HTTP status to answer with."""

    def __init__(self, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass
class FixtureResult:
    """One fixture after the last run: its status, and what the destination gave (for diff and accept)."""

    name: str
    title: str
    status: str  # "pass", "fail" or "error"
    message: str = ""
    actual: Any = None
    data: dict[str, Any] = field(default_factory=dict, repr=False)


def inside(root: Path, path: Path) -> bool:
    """Whether ``path``, symlinks followed, is ``root`` or below it."""
    try:
        path.resolve().relative_to(root.resolve())
    except (OSError, ValueError, RuntimeError):
        return False
    return True


def _listed(root: Path, suffixes: tuple[str, ...]) -> dict[str, Path]:
    """Files below ``root`` with one of ``suffixes``, by their relative name, none leaving ``root``."""
    if not root.is_dir():
        return {}
    found = (p for p in sorted(root.rglob("*")) if p.suffix in suffixes and p.is_file() and inside(root, p))
    return {p.relative_to(root).as_posix(): p for p in found}


class Workspace:
    """A mapping folder being edited, the destination it last loaded as, and its fixtures' results.

    One lock orders saves, runs and accepts: the page may send them at once, and a fixture run
    must see one version of the files."""

    def __init__(self, folder: Path, fixtures_dir: Path) -> None:
        self.folder = folder.resolve()
        self.fixtures_dir = fixtures_dir.resolve()
        self.problems: list[dict[str, Any]] = []
        self.results: list[FixtureResult] = []
        self._lock = threading.Lock()
        self.destination = Destination.from_folder(self.folder)  # a folder that does not load is a usage error
        self.run_fixtures()

    # -- mapping files -----------------------------------------------------------------------

    def mapping_files(self) -> dict[str, Path]:
        return _listed(self.folder, MAPPING_SUFFIXES)

    def _mapping_path(self, name: Any) -> Path:
        path = self.mapping_files().get(name) if isinstance(name, str) else None
        if path is None:
            raise StudioError(f"no mapping file {name!r} in {self.folder.name}", 404)
        return path

    def read(self, name: Any) -> str:
        return self._mapping_path(name).read_text(encoding="utf-8")

    def save(self, name: Any, text: Any) -> None:
        """Write one mapping file and load the folder again; when it does not load, its problems are
        kept (to show at their file:line) and the last version that loaded goes on serving."""
        if not isinstance(text, str):
            raise StudioError("a file's text is a string")
        with self._lock:
            self._mapping_path(name).write_text(text, encoding="utf-8")
            try:
                self.destination = Destination.from_folder(self.folder)
            except MappingError as exc:
                self.problems = [self._problem(p) for p in exc.problems]
                return
            self.problems = []
            self._run_fixtures()

    def _problem(self, problem: Problem) -> dict[str, Any]:
        """A load problem with its file named as the editor names it (relative to the folder)."""
        path = Path(problem.file)
        name = path.relative_to(self.folder).as_posix() if path.is_absolute() and inside(self.folder, path) \
            else path.name
        return {"file": name, "line": problem.line, "path": problem.yaml_path, "message": problem.message}

    # -- one event ---------------------------------------------------------------------------

    def explain(self, event: Any, settings: Any, lookups: Any) -> dict[str, Any]:
        """``Destination.explain``'s data for one event, with canned look-up answers."""
        problem = fixtures.answers_problem(lookups if lookups is not None else {})
        if problem is not None:
            raise StudioError(problem)
        return self.destination.explain(event, settings, lookup=fixtures.canned_lookup(lookups or {}))

    # -- fixtures ----------------------------------------------------------------------------

    def fixture_names(self) -> dict[str, Path]:
        return _listed(self.fixtures_dir, (".json",))

    def run_fixtures(self) -> None:
        with self._lock:
            self._run_fixtures()

    def _run_fixtures(self) -> None:
        """Every fixture of this destination, run once against the loaded version."""
        results = []
        for name, path in self.fixture_names().items():
            try:
                data = fixtures.read(path)
            except fixtures.FixtureError as exc:
                results.append(FixtureResult(name, name, "error", str(exc)))
                continue
            if data["destination"] != self.destination.name:
                continue
            try:
                actual = fixtures.run(data, self.destination)
            except fixtures.FixtureError as exc:
                results.append(FixtureResult(name, data["name"], "error", str(exc), data=data))
                continue
            status = "pass" if actual == data.get("expected") else "fail"
            results.append(FixtureResult(name, data["name"], status, actual=actual, data=data))
        self.results = results

    def result(self, name: Any) -> FixtureResult:
        found = [r for r in self.results if r.name == name]
        if not found:
            raise StudioError(f"no fixture {name!r}", 404)
        return found[0]

    def detail(self, name: Any) -> dict[str, Any]:
        """One fixture as the page shows it: its input, and its diff when it fails."""
        result = self.result(name)
        data = result.data
        diff = [] if result.status != "fail" else self._diff(data, result.actual)
        return {"name": result.name, "title": result.title, "status": result.status, "message": result.message,
                "event": data.get("event"), "inputs": "inputs" in data, "settings": data.get("settings"),
                "lookups": data.get("lookups") or {}, "diff": diff}

    def accept(self, name: Any) -> None:
        """Write what the destination gives now into one fixture's ``expected``: ``test --update``
        for that file. Refused while the files on disk do not load (the result would be stale)."""
        with self._lock:
            if self.problems:
                raise StudioError("the mapping files have problems: fix them before accepting a result", 409)
            result = self.result(name)
            if result.status != "fail":
                raise StudioError(f"fixture {name!r} has nothing to accept ({result.status})", 409)
            path = self.fixture_names().get(result.name)
            if path is None:  # removed since the last run
                raise StudioError(f"no fixture {name!r}", 404)
            path.write_text(fixtures.render(result.data, result.actual), encoding="utf-8")
            result.data = {**result.data, "expected": result.actual}
            result.status = "pass"

    def _diff(self, data: dict[str, Any], actual: Any) -> list[str]:
        """expected -> actual as a unified diff, the actual value laid out in the fixture's own key
        order, and every string holding a secret setting's value redacted."""
        expected = data.get("expected")
        forms = secret_forms([value for settings in _all_settings(data) for name in self.destination.secret_settings
                              if isinstance(value := settings.get(name), str) and value])
        before = _pretty(_redact(expected, forms))
        after = _pretty(_redact(fixtures.ordered_like(actual, expected), forms))
        return [line.rstrip("\n") for line in difflib.unified_diff(before, after, "expected", "actual")]


def _pretty(value: Any) -> list[str]:
    return (json.dumps(value, indent=2, ensure_ascii=False) + "\n").splitlines(keepends=True)


def _all_settings(data: dict[str, Any]) -> list[dict[str, Any]]:
    """Every settings object a fixture holds: its own, and each input's ``destination.Config``."""
    found = [data.get("settings")]
    for item in data.get("inputs") or []:
        destination = item.get("destination") if isinstance(item, dict) else None
        found.append(destination.get("Config") if isinstance(destination, dict) else None)
    return [settings for settings in found if isinstance(settings, dict)]


def _redact(value: Any, forms: tuple[str, ...]) -> Any:
    """``value`` with each string that holds a secret setting's value (in any form ``forms`` lists)
    shown as explain shows it: ``[redacted]``, whole."""
    if not forms:
        return value

    def walk(item: Any) -> Any:
        if isinstance(item, str):
            return REDACTED if any(form in item for form in forms) else item
        if isinstance(item, dict):
            return {k: walk(v) for k, v in item.items()}
        if isinstance(item, list):
            return [walk(v) for v in item]
        return item

    return walk(value)


def field_trace(explained: dict[str, Any], wanted: str) -> dict[str, Any] | None:
    """The entry of ``explain``'s fields that decided ``wanted`` (a request field such as
    ``body.identity.email``): the field itself, or the nearest field above it (a rule that gave
    a whole object)."""
    best: dict[str, Any] | None = None
    for entry in explained.get("fields", []):
        name = entry["field"]
        if name == wanted:
            return dict(entry)
        if wanted.startswith(name + ".") and (best is None or len(name) > len(best["field"])):
            best = entry
    return dict(best) if best is not None else None
