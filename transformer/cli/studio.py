"""``transformer studio``: the page of transformer.studio, which needs the [studio] extra. It is
imported inside the handler only: the rest of the CLI never needs the studio's web stack."""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .common import UsageError, resolve


def add_command(commands: Any) -> None:
    studio = commands.add_parser("studio", help="edit a destination's mappings on a local page, with its request, "
                                                "each field's trace and its fixtures (needs the [studio] extra)")
    studio.add_argument("target", nargs="?", default=".", metavar="FOLDER|DESTINATION",
                        help="a mapping folder, or a name in ./mappings (default: the current folder)")
    studio.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one, printed)")
    studio.add_argument("--fixtures", type=Path, help="the fixtures folder (default: fixtures/NAME beside mappings/)")
    studio.set_defaults(handler=_studio)


def _studio(args: argparse.Namespace) -> int:
    try:
        from ..studio import studio_command
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("starlette", "uvicorn"):
            raise
        raise UsageError("studio needs the [studio] extra: pip install 'event-transformer[studio]'") from None
    return studio_command(resolve(args.target), args.port, args.fixtures)
