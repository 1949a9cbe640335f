"""What every command shares: exit codes, usage errors, messages on stderr, where a destination
name's mappings come from, and reading the settings and look-up files."""
from __future__ import annotations

import argparse
import errno
import json
import os
import stat
import sys
from pathlib import Path
from typing import IO, Any

from .. import builtin_destinations, load
from ..errors import TransformError
from ..language import folders
from ..language.suggest import did_you_mean
from ..language.yamlsource import parse_yaml
from ..runtime.destination import Destination
from ..runtime.json_words import json_problem
from ..runtime.values import printable
from . import fixtures
from .canned import CannedAnswers

EXIT_OK, EXIT_EVENT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
QUIET, NORMAL, VERBOSE = 0, 1, 2  # --quiet, neither, --verbose
_level = NORMAL


class UsageError(Exception):
    """Bad arguments, unreadable files, bad settings: exit 2 before (or instead of) any output."""


def drop_stdout() -> None:
    """Point stdout at devnull: what is still buffered for the closed pipe would otherwise fail
    again when Python flushes it at exit ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): nothing to flush
        pass


def set_verbosity(level: int) -> None:
    global _level  # one process, one command: the level its options asked for
    _level = level


def loud(level: int) -> bool:
    """Whether text of this level (QUIET: always, NORMAL: unless --quiet, VERBOSE) is shown."""
    return _level >= level


def note(text: str, level: int = NORMAL) -> None:
    """Say ``text`` when the verbosity asks for it (a summary: NORMAL; a detail: VERBOSE)."""
    if loud(level):
        say(text)


def say(text: str, end: str = "\n") -> None:
    """Write to stderr, if there is one: with stderr closed, print would write to stdout instead."""
    if sys.stderr is not None:
        print(text, end=end, file=sys.stderr, flush=True)


DESTINATION_HELP = ("a destination's name or a mapping folder. A name means ./mappings/NAME when the current "
                    "folder has one (a checkout you edit), else the installed built-in "
                    f"({', '.join(builtin_destinations())})")


def resolve(name: str) -> str | Path:
    """What a destination name means on the command line: the folder transformer.load's rule
    gives it (./mappings/NAME in a checkout, else the built-in). Paths and unknown names stay as given."""
    return folders.folder_of(name) or name


def unknown_destination(name: str) -> UsageError:
    """The one message every command gives for a destination name that means nothing here."""
    known = folders.known_names()
    return UsageError(f"no destination {name!r}{did_you_mean(name, known)} (known: {', '.join(known)})")


def known_destination(name: str) -> str:
    """``name`` when it names a destination or a folder here, else the usage error with a suggestion."""
    if folders.is_name(name) and folders.folder_of(name) is None and not Path(name).is_dir():
        raise unknown_destination(name)
    return name


def load_destination(name: str, report: IO[str] | None) -> Destination:
    """Load a destination by name or folder and say which folder it came from (unless --quiet)."""
    destination = load(resolve(name))
    if report is not None and loud(NORMAL):
        print(f"transformer: {destination.name} from {destination.folder}", file=report)
    return destination


def destination_and_settings(args: argparse.Namespace) -> tuple[Destination, Any]:
    """What run, explain and send start from: the destination named by --destination (saying
    which folder it came from) and the --settings file, checked against it (a problem is exit 2)."""
    destination = load_destination(known_destination(args.destination), sys.stderr)
    settings = read_config(args.settings, "settings")
    hints = unknown_settings(destination, settings)
    try:
        destination.check_settings(settings)
    except TransformError as exc:
        raise UsageError("; ".join([str(exc), *hints])) from None
    for hint in hints:
        say(f"transformer: {hint}")
    return destination, settings


def unknown_settings(destination: Destination, settings: Any) -> list[str]:
    """A line for each setting the destination does not declare, with the closest it does."""
    known = destination.setting_names
    if not isinstance(settings, dict):
        return []
    return [f"unknown setting {printable(str(key))!r}{did_you_mean(str(key), known)}, ignored"
            for key in settings if key not in known]


def check_streams(names: list[str]) -> None:
    """Every input readable and stdout open, before any output (a problem found later would come
    after some results)."""
    if sys.stdout is None:
        raise UsageError("standard output is closed")
    for name in names:
        if name == "-":
            if sys.stdin is None:
                raise UsageError("standard input is closed (give event FILEs instead)")
            continue
        try:
            mode = os.stat(name).st_mode
        except OSError as exc:
            raise UsageError(f"{name}: no such file" if exc.errno == errno.ENOENT else
                             f"{name}: cannot read ({exc.strerror})") from None
        if stat.S_ISDIR(mode):
            raise UsageError(f"{name}: is a folder, not a file of events")
        if not stat.S_ISREG(mode):
            # A pipe (`<(cat events)`, a named pipe) is read like a file, but not opened here: opening
            # and closing its reading end could end the writer's run (SIGPIPE) before it is read.
            if not os.access(name, os.R_OK):
                raise UsageError(f"{name}: cannot read (permission denied)")
            continue
        try:
            open(name, "rb").close()  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"{name}: cannot read ({exc.strerror})") from None


def canned_lookup(path: Path, destination: Destination, settings: Any, refuse_misses: bool = False) -> CannedAnswers:
    """A lookup function answering from a --lookups file, counting what it was asked (its
    messages show URLs without the values of ``destination``'s secret ``settings``)."""
    answers = read_config(path, "lookups")
    problem = fixtures.answers_problem(answers)
    if problem is not None:
        raise UsageError(f"{path}: {problem}")
    return CannedAnswers(answers, path, destination.secret_values(settings), refuse_misses)


def report_lookups(lookup: CannedAnswers | None) -> None:
    """After a command that used a --lookups file: warn about look-ups no entry answered (and
    with --verbose, count them)."""
    if lookup is None:
        return
    for line in lookup.report():
        say(f"transformer: {line}")
    note(f"transformer: {lookup.counts()}", VERBOSE)


def read_config(path: Path, what: str) -> Any:
    """A settings or look-ups file: JSON by its suffix (fast on large answer files), else YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except json.JSONDecodeError as exc:
            raise UsageError(f"{path}: {what} is not valid JSON: {json_problem(exc)}") from None
        except ValueError as exc:
            raise UsageError(f"{path}: {what} is not valid JSON ({exc})") from None
        except RecursionError:
            raise UsageError(f"{path}: {what} is nested too deeply to read") from None
    source, problems = parse_yaml(text, str(path))
    if problems or source is None:
        raise UsageError(f"{what} is not usable YAML: {problems[0]}")
    return source.data
