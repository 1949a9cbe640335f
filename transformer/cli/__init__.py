"""The ``transformer`` command. One module per command (run, check, test, explain, compile, new,
send, studio), each with its ``add_command``; the readers and writers they share are records,
inputs, jsonarray, output, progress, reports and common."""
from __future__ import annotations

import argparse
import re
import warnings
from collections.abc import Sequence
from typing import NoReturn

from .. import __version__
from ..errors import MappingError
from ..language.suggest import did_you_mean
from . import check, explain, new, run, send, studio, test
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

COMMANDS = (run, check, test, explain, compile_command, new, send, studio)


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


class _Parser(argparse.ArgumentParser):
    """argparse's parser, whose usage errors say which command or option was meant."""

    def error(self, message: str) -> NoReturn:
        unknown = re.match(r"unrecognized arguments: (.*)", message)
        choice = re.search(r"invalid choice: '([^']*)' \(choose from (.*)\)", message)
        if unknown:
            message += "".join(self._meant(word.split("=")[0]) for word in unknown.group(1).split() if word.startswith("-"))
        elif choice:
            message += did_you_mean(choice.group(1), re.findall(r"'([^']*)'", choice.group(2)))
        super().error(message)

    def _meant(self, word: str) -> str:
        """What an option this command does not take may have meant: the commands that take it
        as it is (``compile -d``: `run` and others do), else the closest option of any."""
        takers = [parser.prog for parser in self._all()[1:]
                  if any(word in action.option_strings for action in parser._actions)]
        if takers:
            return f" ({word} is an option of {', '.join(takers)}, not of this command)"
        options = {option for parser in self._all() for action in parser._actions for option in action.option_strings}
        return did_you_mean(word, options)

    def _all(self) -> list[argparse.ArgumentParser]:
        """This parser and its commands' parsers."""
        commands = [action for action in self._actions if isinstance(action, argparse._SubParsersAction)]
        return [self, *(parser for action in commands for parser in action.choices.values())]


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="transformer", description=(
        "Turn analytics events into API request descriptions using YAML mapping folders."))
    parser.add_argument("--version", action="version", version=f"transformer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for command in COMMANDS:
        command.add_command(commands)
    for subparser in commands.choices.values():  # the same two options on every command
        add_verbosity(subparser)
    return parser
