"""``transformer test``: run golden fixtures and show a diff for each mismatch."""
from __future__ import annotations

import argparse
import difflib
import fnmatch
import json
import sys
import time
from pathlib import Path
from typing import Any

from ..errors import MappingError
from ..language import folders
from ..runtime.destination import Destination
from . import fixtures
from .common import (
    EXIT_EVENT_ERRORS,
    EXIT_OK,
    NORMAL,
    VERBOSE,
    UsageError,
    load_destination,
    loud,
    unknown_destination,
)
from .reports import Case, add_outputs, as_data, paint, summary, write_reports


def add_command(commands: Any) -> None:
    test = commands.add_parser("test", help="run fixture files and show a diff for each mismatch",
                               description="Run fixture files against their destination (or --mappings) and print a "
                                           "unified diff of expected vs actual for each mismatch; exit 1 on any.")
    test.add_argument("path", nargs="?", default="fixtures", type=Path, metavar="FIXTURES_DIR",
                      help="a fixture file or a folder of them (default: fixtures)")
    where = test.add_mutually_exclusive_group()
    where.add_argument("--destination", "-d", help="run only fixtures of this destination")
    where.add_argument("--mappings", type=Path, help="run the fixtures of this mapping folder's destination against it")
    test.add_argument("-k", dest="pattern", metavar="PATTERN",
                      help="run only fixtures whose name or file contains PATTERN (case-insensitive; *, ? and [] "
                           "match as in file names)")
    test.add_argument("--update", action="store_true",
                      help="accept the changes: rewrite each mismatching fixture's expected (review the diff before committing)")
    add_outputs(test)
    test.set_defaults(handler=_test)


class _Run:
    """One `transformer test`: the destinations loaded so far and where its text goes."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        # With --format json, stdout holds only the JSON: the text goes nowhere.
        self.out = sys.stdout if args.format == "text" else None
        self.custom = load_destination(str(args.mappings), self.out) if args.mappings else None
        self.loaded: dict[str, Destination] = {}

    def print(self, text: str, level: int = NORMAL) -> None:
        if self.out is not None and loud(level):
            print(text, file=self.out)

    def wanted(self, path: Path, data: dict[str, Any]) -> bool:
        if self.args.destination and data["destination"] != self.args.destination:
            return False
        if self.custom is not None and data["destination"] != self.custom.name:
            return False
        return self.args.pattern is None or _matches(self.args.pattern, data["name"], str(path))

    def destination(self, name: str) -> Destination:
        found = self.custom or self.loaded.get(name)
        if found is None:
            found = self.loaded[name] = load_destination(name, self.out)
        return found

    def case(self, path: Path) -> Case | None:
        """Run one fixture file (None when it is not selected)."""
        start = time.perf_counter()
        try:
            data = fixtures.read(path)
        except fixtures.FixtureError as exc:
            return Case(path.name, str(path), "error", time.perf_counter() - start, str(exc))
        if not self.wanted(path, data):
            return None
        try:
            destination = self.destination(data["destination"])
        except MappingError as exc:
            message = f"{path}: destination {data['destination']!r}: {exc.problems[0].message}"
            return Case(data["name"], str(path), "error", time.perf_counter() - start, message)
        try:
            actual = fixtures.run(data, destination)
        except fixtures.FixtureError as exc:
            return Case(data["name"], str(path), "failed", time.perf_counter() - start, f"{path}: {exc}")
        seconds = time.perf_counter() - start
        if actual == data.get("expected"):
            return Case(data["name"], str(path), "passed", seconds)
        # Shown in the file's own key order, so a changed value shows in its place; written as the
        # golden test renders it, so that test passes too.
        diff = _diff(path, fixtures.render(data, fixtures.ordered_like(actual, data.get("expected"))))
        if self.args.update:
            path.write_text(fixtures.render(data, actual), encoding="utf-8")
        return Case(data["name"], str(path), "updated" if self.args.update else "failed", seconds,
                    f"{path}: {data['name']}", {"diff": diff})

    def show(self, case: Case) -> None:
        if case.outcome == "passed":
            self.print(f"{paint('PASS', 'green')} {case.file}: {case.name} ({case.seconds * 1000:.1f} ms)", VERBOSE)
        elif case.outcome == "error":
            self.print(f"{paint('ERROR', 'red')} {case.message}", 0)
        elif "diff" not in case.details:
            self.print(f"{paint('FAIL', 'red')} {case.message}", 0)
        else:
            word = paint("UPDATED", "yellow") if case.outcome == "updated" else paint("FAIL", "red")
            self.print(f"{word} {case.message}", 0)
            if self.out is not None:
                self.out.writelines(_coloured(case.details["diff"]))


def _test(args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or folder")
    if args.destination and folders.folder_of(args.destination) is None:
        raise unknown_destination(args.destination)
    run = _Run(args)
    cases: list[Case] = []
    for path in fixtures.find(args.path):
        case = run.case(path)
        if case is not None:
            cases.append(case)
            run.show(case)
    counts = summary(cases)
    failed = counts["failed"] + counts["error"]
    if not cases:  # say why nothing ran rather than leave "0 passed" to puzzle over
        wanted = args.destination or (run.custom.name if run.custom is not None else None)
        run.print(f"no fixtures in {args.path}" + (f" for destination {wanted}" if wanted else "")
                  + (f" matching {args.pattern!r}" if args.pattern else ""), 0)
    run.print(f"{counts['passed']} passed, {failed} failed" + (f", {counts['updated']} updated" if args.update else ""),
              0)
    if args.format == "json":
        print(json.dumps(as_data("test", cases), indent=2, ensure_ascii=False))
    write_reports("test", cases, args.report)
    return EXIT_EVENT_ERRORS if failed or not counts["passed"] + counts["updated"] else EXIT_OK


def _matches(pattern: str, *texts: str) -> bool:
    wanted = pattern.lower()
    glob = wanted if any(c in wanted for c in "*?[") else f"*{wanted}*"
    return any(fnmatch.fnmatchcase(text.lower(), glob) for text in texts)


def _diff(path: Path, new_text: str) -> list[str]:
    """The fixture file as it is against what it would become: its own key order and line numbers."""
    old = path.read_text(encoding="utf-8").splitlines(keepends=True)
    lines = list(difflib.unified_diff(old, new_text.splitlines(keepends=True), f"{path} (expected)", f"{path} (actual)"))
    return [line if line.endswith("\n") else line + "\n" for line in lines]


def _coloured(lines: list[str]) -> list[str]:
    colours = {"+": "green", "-": "red", "@": "bold"}
    return [paint(line.rstrip("\n"), colours[line[0]]) + "\n" if line[:1] in colours and line[:3] not in ("+++", "---")
            else line for line in lines]
