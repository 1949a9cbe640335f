"""The ``transformer`` command. One module per command (run, check, test, explain, new, send,
studio), each with its ``add_command``; the readers and writers they share are records, inputs,
jsonarray, output, progress and common."""
from __future__ import annotations

import argparse
from collections.abc import Sequence

from .. import __version__
from ..errors import MappingError
from . import check, explain, new, run, send, studio, test
from .common import EXIT_INTERRUPTED, EXIT_USAGE, UsageError, drop_stdout, say

COMMANDS = (run, check, test, explain, new, send, studio)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        say(f"transformer: {exc}")
        return EXIT_USAGE
    except MappingError as exc:
        say("transformer: the mappings have problems:")
        for problem in exc.problems:
            say(f"  {problem}")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: results were lost, so say so
        say("transformer: standard output was closed before every result was written")
        drop_stdout()
        return EXIT_USAGE
    except OSError as exc:  # a file or stream failed after the run began (a disk error, a closed stream)
        say(f"transformer: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C outside the event loop (which reports its own summary)
        say("transformer: interrupted")
        return EXIT_INTERRUPTED


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformer", description=(
        "Turn analytics events into API request descriptions using YAML mapping folders."))
    parser.add_argument("--version", action="version", version=f"transformer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_command(commands)
    return parser
