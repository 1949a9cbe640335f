"""``transformer new``: start a destination with a mapping folder and a fixture that pass."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import EXIT_OK, UsageError
from .scaffold import ScaffoldError, scaffold


def add_command(commands: Any) -> None:
    new = commands.add_parser("new", help="start a new destination: a mapping folder and a fixture that pass check and test",
                              description="Create mappings/NAME (destination.yaml with settings, track.yaml) and "
                                          "fixtures/NAME/track.json under --root, ready to edit; check and test pass at once.")
    new.add_argument("name", metavar="NAME", help="the destination's name (letters, digits, _)")
    new.add_argument("--root", type=Path, default=Path("."), help="where mappings/ and fixtures/ are (default: here)")
    new.set_defaults(handler=_new)


def _new(args: argparse.Namespace) -> int:
    try:
        written = scaffold(args.name, args.root)
    except ScaffoldError as exc:
        raise UsageError(str(exc)) from None
    for path in written:
        print(f"created {path}")
    folder, fixture = written[0].parent, written[2].parent
    here = args.root.resolve() == Path.cwd().resolve()
    print(f"next: transformer check {folder} && transformer test {fixture}" + ("" if here else f" --mappings {folder}"))
    return EXIT_OK
