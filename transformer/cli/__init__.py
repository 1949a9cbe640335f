"""The ``transformer`` command. One module per command (run, check, test, explain, compile, new, send), each
with its ``add_command``; the readers and writers they share are records, inputs, jsonarray, output,
progress and common."""
from __future__ import annotations

import argparse
import warnings
from collections.abc import Sequence

from .. import __version__
from ..errors import MappingError
from . import check, explain, new, run, send, test
from . import compile as compile_command  # the module is named after its command
from .common import (
    EXIT_INTERRUPTED,
    EXIT_USAGE,
    UsageError,
    drop_stdout,
    say,
    set_verbosity,
)
from .reports import add_verbosity

COMMANDS = (run, check, test, explain, compile_command, new, send)


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    set_verbosity(args.verbosity)
    with warnings.catch_warnings():
        warnings.showwarning = _say_warning
        return _handle(args)


def _say_warning(message: Warning | str, category: type[Warning], *_: object, **__: object) -> None:
    """A library warning (a different installed copy of the mappings, say) as one line on stderr."""
    say(f"transformer: {message}")


def _handle(args: argparse.Namespace) -> int:
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
    for subparser in commands.choices.values():  # the same two options on every command
        add_verbosity(subparser)
    return parser
