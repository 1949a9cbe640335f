"""``transformer check``: validate and compile mapping folders."""
from __future__ import annotations

import argparse
import json
import time
from dataclasses import asdict
from typing import Any

from .. import builtin_destinations, load
from ..errors import MappingError
from ..language import folders
from .common import EXIT_EVENT_ERRORS, EXIT_OK, VERBOSE, loud, resolve
from .reports import Case, add_outputs, as_data, paint, write_reports


def add_command(commands: Any) -> None:
    check = commands.add_parser("check", help="validate mapping folders",
                                description="Validate mapping folders against the mapping schema and compile them. "
                                            "Prints each problem as file:line: yaml.path: message; exit 1 on any. "
                                            "Warnings (what loads but is likely a mistake) are printed too, and do not fail.")
    check.add_argument("folders", nargs="*", metavar="MAPPING_DIR",
                       help="mapping folders (default: those in ./mappings when there is one, else the built-in ones)")
    add_outputs(check)
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    cases = [_case(str(folder)) for folder in args.folders or _default_folders()]
    if args.format == "json":
        print(json.dumps(as_data("check", cases), indent=2, ensure_ascii=False))
    else:
        for case in cases:
            for problem in case.details.get("problems", []):
                print(paint(problem, "red"))
            for warning in case.details.get("warnings", []):
                print(f"{paint('warning', 'yellow')}: {warning}")
            if case.outcome == "passed":
                print(f"{paint('ok', 'green')}: {case.file} ({case.name}: {', '.join(case.details['event_types'])})"
                      + (f" in {case.seconds * 1000:.0f} ms" if loud(VERBOSE) else ""))
    write_reports("check", cases, args.report)
    return EXIT_EVENT_ERRORS if any(case.outcome != "passed" for case in cases) else EXIT_OK


def _case(folder: str) -> Case:
    """Load one folder: passed with its event types, or failed with each problem."""
    start = time.perf_counter()
    try:
        destination = load(resolve(folder))
    except MappingError as exc:
        problems = [str(problem) for problem in exc.problems]
        return Case(folder, folder, "failed", time.perf_counter() - start, f"{len(problems)} problem(s)",
                    {"problems": problems, "located": [asdict(problem) for problem in exc.problems]})
    return Case(destination.name, str(destination.folder), "passed", time.perf_counter() - start,
                details={"event_types": list(destination.event_types),
                         "warnings": [str(warning) for warning in destination.warnings]})


def _default_folders() -> list[str]:
    """The working copy's mapping folders when there is one, else the built-in destinations."""
    return folders.checkout_names() or builtin_destinations()
