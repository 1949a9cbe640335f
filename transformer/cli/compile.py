"""``transformer compile``: the Python the engine generated for a destination's rules, to read."""
from __future__ import annotations

import argparse
from typing import Any

from .common import DESTINATION_HELP, EXIT_OK, UsageError, known_destination, load_destination


def add_command(commands: Any) -> None:
    compile_ = commands.add_parser("compile", help="print the Python generated for each rule, with its YAML file:line",
                                   description="Print the Python the engine generated for each rule root (method, "
                                               "endpoint, headers, params, body, validate conditions; the body, "
                                               "method and endpoint in one where the method and endpoint both read "
                                               "the event) and each let it calls, of every event type or one, each "
                                               "part commented with the YAML file:line and path it came from. What "
                                               "runs is this code without the comments.")
    compile_.add_argument("destination", metavar="DESTINATION", help=DESTINATION_HELP)
    compile_.add_argument("--event-type", "-t", metavar="TYPE", help="only this event type (default: every one)")
    compile_.set_defaults(handler=_compile)


def _compile(args: argparse.Namespace) -> int:
    known_destination(args.destination)
    destination = load_destination(args.destination, None)
    event_types = [args.event_type] if args.event_type else list(destination.event_types)
    for event_type in event_types:
        try:
            rules = destination.generated_code(event_type)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        for rule in rules:
            print(f"# ---- {destination.name} {event_type}: {rule.root} ----")
            print(rule.source)
    return EXIT_OK
