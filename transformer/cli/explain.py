"""``transformer explain``: which rule gave each field of one event's request, and why."""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any

from ..runtime.explain import render as render_explanation
from ..runtime.values import printable
from .common import (
    DESTINATION_HELP,
    EXIT_EVENT_ERRORS,
    EXIT_OK,
    UsageError,
    canned_lookup,
    destination_and_settings,
    report_lookups,
)
from .inputs import stdin_bytes
from .records import Unreadable, read_event, without_bom


def add_command(commands: Any) -> None:
    explain = commands.add_parser("explain", help="show which rule gave each field of one event's request, and why",
                                  description="Transform one event and show, for every output field (and every rule "
                                              "that left one out), the file:line and rule that decided it, where the "
                                              "value came from, and each candidate tried (missing, null, empty, "
                                              "condition false). Exit 0 when the event transformed, 1 when it is an error.")
    explain.add_argument("event", type=Path, metavar="EVENT_FILE", help="one event as a JSON object ('-' reads stdin)")
    explain.add_argument("--destination", "-d", required=True, help=DESTINATION_HELP)
    explain.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    explain.add_argument("--lookups", type=Path, help="canned look-up answers, as for run")
    explain.add_argument("--field", "-f", metavar="NAME",
                         help="only this field's trace, e.g. body.email (a parent such as body shows the fields below it)")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON (Destination.explain's data)")
    explain.set_defaults(handler=_explain)


def _explain(args: argparse.Namespace) -> int:
    destination, settings = destination_and_settings(args)
    lookup = None if args.lookups is None else canned_lookup(args.lookups, destination, settings)
    label = "<stdin>" if str(args.event) == "-" else printable(str(args.event))
    try:
        text = stdin_bytes().read() if str(args.event) == "-" else args.event.read_bytes()
    except OSError as exc:
        raise UsageError(f"{label}: cannot read the event: {exc}") from None
    event = read_event(without_bom(text), label)  # read as `run` reads an input
    if isinstance(event, Unreadable):
        raise UsageError(f"{event.reason} (not one JSON event)")
    try:
        data = destination.explain(event, settings, lookup=lookup, field=args.field)
    except ValueError as exc:  # a field no rule gives
        raise UsageError(str(exc)) from None
    # The event's own text (a lone surrogate, say) is shown escaped: the output always encodes.
    sys.stdout.write(printable(json.dumps(data, indent=2, ensure_ascii=False) + "\n" if args.json
                               else render_explanation(data)))
    report_lookups(lookup)
    return EXIT_OK if "request" in data else EXIT_EVENT_ERRORS
