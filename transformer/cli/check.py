"""``transformer check``: validate and compile mapping folders."""
from __future__ import annotations

import argparse
from typing import Any

from .. import builtin_destinations, load
from ..errors import MappingError
from ..language import folders
from .common import EXIT_EVENT_ERRORS, EXIT_OK, resolve


def add_command(commands: Any) -> None:
    check = commands.add_parser("check", help="validate mapping folders",
                                description="Validate mapping folders against the mapping schema and compile them. "
                                            "Prints each problem as file:line: yaml.path: message; exit 1 on any.")
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
        print(f"ok: {destination.folder} ({destination.name}: {', '.join(destination.event_types)})")
    return EXIT_EVENT_ERRORS if failed else EXIT_OK


def _default_folders() -> list[str]:
    """The working copy's mapping folders when there is one, else the built-in destinations."""
    return folders.checkout_names() or builtin_destinations()
