"""``transformer test``: run golden fixtures and show a diff for each mismatch."""
from __future__ import annotations

import argparse
import difflib
import json
import sys
from pathlib import Path
from typing import Any

from ..errors import MappingError
from ..language import folders
from ..runtime.destination import Destination
from . import fixtures
from .common import (
    EXIT_EVENT_ERRORS,
    EXIT_OK,
    UsageError,
    load_destination,
    unknown_destination,
)


def add_command(commands: Any) -> None:
    test = commands.add_parser("test", help="run fixture files and show a diff for each mismatch",
                               description="Run fixture files against their destination (or --mappings) and print a "
                                           "unified diff of expected vs actual for each mismatch; exit 1 on any.")
    test.add_argument("path", nargs="?", default="fixtures", type=Path, metavar="FIXTURES_DIR",
                      help="a fixture file or a folder of them (default: fixtures)")
    where = test.add_mutually_exclusive_group()
    where.add_argument("--destination", "-d", help="run only fixtures of this destination")
    where.add_argument("--mappings", type=Path, help="run the fixtures of this mapping folder's destination against it")
    test.add_argument("--update", action="store_true",
                      help="accept the changes: rewrite each mismatching fixture's expected (review the diff before committing)")
    test.set_defaults(handler=_test)


def _test(args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or folder")
    if args.destination and folders.folder_of(args.destination) is None:
        raise unknown_destination(args.destination)
    custom = load_destination(str(args.mappings), sys.stdout) if args.mappings else None
    loaded: dict[str, Destination] = {}
    passed = failed = updated = 0
    for path in fixtures.find(args.path):
        try:
            data = fixtures.read(path)
        except fixtures.FixtureError as exc:
            print(f"ERROR {exc}")
            failed += 1
            continue
        if args.destination and data["destination"] != args.destination:
            continue
        if custom is not None and data["destination"] != custom.name:
            continue
        destination = custom or loaded.get(data["destination"])
        if destination is None:
            try:
                destination = loaded[data["destination"]] = load_destination(data["destination"], sys.stdout)
            except MappingError as exc:
                print(f"ERROR {path}: destination {data['destination']!r}: {exc.problems[0].message}")
                failed += 1
                continue
        try:
            actual = fixtures.run(data, destination)
        except fixtures.FixtureError as exc:
            print(f"FAIL {path}: {exc}")
            failed += 1
            continue
        if actual == data.get("expected"):
            passed += 1
            continue
        if args.update:  # the same text the golden test compares, so it passes too
            path.write_text(fixtures.render(data, actual), encoding="utf-8")
            updated += 1
        else:
            failed += 1
        print(f"{'UPDATED' if args.update else 'FAIL'} {path}: {data['name']}")
        sys.stdout.writelines(difflib.unified_diff(
            _pretty(data.get("expected")), _pretty(actual), "expected", "actual"))
    if not passed and not failed and not updated:  # say why nothing ran rather than leave "0 passed" to puzzle over
        wanted = args.destination or (custom.name if custom is not None else None)
        print(f"no fixtures in {args.path}" + (f" for destination {wanted}" if wanted else ""))
    print(f"{passed} passed, {failed} failed" + (f", {updated} updated" if args.update else ""))
    return EXIT_EVENT_ERRORS if failed or not passed + updated else EXIT_OK


def _pretty(value: Any) -> list[str]:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").splitlines(keepends=True)
