"""``transformer check``: validate and compile mapping folders."""
from __future__ import annotations

import argparse
from typing import Any

from .. import builtin_destinations, load
from ..errors import MappingError
from .common import EXIT_EVENT_ERRORS, EXIT_OK, WORKING_COPY, resolve


def add_command(commands: Any) -> None:
    check = commands.add_parser("check", help="validate mapping folders",
                                description="Validate mapping folders against the mapping schema and compile them. "
                                            "Prints each problem as file:line: yaml.path: message; exit 1 on any. "
                                            "Warnings (what loads but is likely a mistake) are printed too, and do not fail.")
    check.add_argument("folders", nargs="*", metavar="MAPPING_DIR",
                       help="mapping folders (default: those in ./mappings when there is one, else the built-in ones)")
    check.set_defaults(handler=_check)


def _check(args: argparse.Namespace) -> int:
    folders = args.folders or _default_folders()
    failed = False
    for folder in folders:
        try:
            destination = load(resolve(str(folder)))
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                print(problem)
            continue
        for warning in destination.warnings:
            print(f"warning: {warning}")
        print(f"ok: {destination.folder} ({destination.name}: {', '.join(destination.event_types)})")
    return EXIT_EVENT_ERRORS if failed else EXIT_OK


def _default_folders() -> list[str]:
    """The working copy's mapping folders when there is one, else the built-in destinations."""
    local = sorted(p.parent.resolve() for p in WORKING_COPY.glob("*/destination.yaml"))
    return [str(p) for p in local] or builtin_destinations()
