"""The ``transformer`` command: run events through a destination, check mappings, run fixtures."""
from __future__ import annotations

import argparse
import difflib
import json
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import IO, Any

import orjson
import yaml

from . import builtin_destinations, fixtures, load, send_cli
from .destination import Destination
from .errors import MappingError, TransformError
from .lookups import Lookup
from .wire import compact_json

EXIT_OK, EXIT_EVENT_ERRORS, EXIT_USAGE = 0, 1, 2
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_CHUNK = 1 << 16


class UsageError(Exception):
    """Bad arguments, unreadable files, bad settings: exit 2 before (or instead of) any output."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        print(f"transformer: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except MappingError as exc:
        print("transformer: the mappings have problems:", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: the reader has what it wanted
        sys.stderr.close()
        return EXIT_OK


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformer", description=(
        "Turn analytics events into API request descriptions using YAML mapping folders."))
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="transform events (NDJSON or a JSON array) into request descriptions",
                              description="Read events from FILEs (or stdin) as NDJSON or a JSON array and write one "
                                          "result per line (NDJSON) to stdout, in order. Exit 0 when every event "
                                          "transformed, 1 when some were errors, 2 on usage or configuration problems.")
    run.add_argument("files", nargs="*", metavar="FILE", help="event files; none or '-' reads stdin")
    run.add_argument("--destination", "-d", required=True,
                     help=f"built-in destination ({', '.join(builtin_destinations())}) or a mapping folder")
    run.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    run.add_argument("--lookups", type=Path, help="canned look-up answers: JSON/YAML object URL -> {status, body}; "
                                                  "URLs not listed answer 404")
    run.add_argument("--batch", action="store_true", help="pack successful results into batch requests")
    run.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")
    run.set_defaults(handler=_run)

    check = commands.add_parser("check", help="validate mapping folders",
                                description="Validate mapping folders against the mapping schema and compile them. "
                                            "Prints each problem as file:line: yaml.path: message; exit 1 on any.")
    check.add_argument("folders", nargs="*", metavar="MAPPING_DIR", help="mapping folders (default: the built-in ones)")
    check.set_defaults(handler=_check)

    test = commands.add_parser("test", help="run fixture files and show a diff for each mismatch",
                               description="Run fixture files against their destination (or --mappings) and print a "
                                           "unified diff of expected vs actual for each mismatch; exit 1 on any.")
    test.add_argument("path", nargs="?", default="fixtures", type=Path, metavar="FIXTURES_DIR",
                      help="a fixture file or a folder of them (default: fixtures)")
    where = test.add_mutually_exclusive_group()
    where.add_argument("--destination", "-d", help="run only fixtures of this destination")
    where.add_argument("--mappings", type=Path, help="run the fixtures against this mapping folder instead")
    test.set_defaults(handler=_test)
    send_cli.add_command(commands)  # transformer send: in its own module (it needs the [http] extra)
    return parser


# -- run --------------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    destination = load(args.destination)
    settings = _read_config(args.settings, "settings")
    try:
        destination.check_settings(settings)
    except TransformError as exc:
        raise UsageError(str(exc)) from None
    lookup = None if args.lookups is None else _canned_lookup(args.lookups)
    if args.batch and not destination.supports_batching:
        raise UsageError(f"destination {destination.name} declares no batching")
    names = args.files or ["-"]
    for name in names:
        if name != "-" and not Path(name).is_file():
            raise UsageError(f"{name}: no such file")

    progress = _Progress(enabled=sys.stderr.isatty() and not args.no_progress)
    counts: Counter[int] = Counter()

    def results() -> Iterator[dict[str, Any]]:
        for metadata, message in _read_events(names):
            result: dict[str, Any]
            if isinstance(message, _Unreadable):
                result = {"error": message.reason, "statusCode": 400, "metadata": metadata}
            else:
                result = destination.process_one(
                    {"message": message, "destination": {"Config": settings}, "metadata": metadata}, lookup=lookup)
            counts[result["statusCode"]] += 1
            progress.tick()
            yield result

    write = _line_writer()
    written = 0
    stream = destination.iter_batches(results()) if args.batch else results()
    for result in stream:
        write(result)
        written += 1
    sys.stdout.flush()
    progress.done()
    total = sum(counts.values())
    errors = total - counts[200]
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()) if status != 200)
    summary = f"{destination.name}: {total} events, {counts[200]} transformed, {errors} errors"
    summary += f" ({by_status})" if errors else ""
    summary += f"; {written} lines written" if args.batch else ""
    print(summary, file=sys.stderr)
    return EXIT_EVENT_ERRORS if errors else EXIT_OK


def _canned_lookup(path: Path) -> Lookup:
    """A lookup function answering from a --lookups file."""
    answers = _read_config(path, "lookups")
    shape = "an object of URL -> {status: <int>, body: <any JSON>}"
    if not isinstance(answers, dict):
        raise UsageError(f"{path}: look-up answers must be {shape}")
    for url, answer in answers.items():
        if not isinstance(answer, dict) or not isinstance(answer.get("status", 200), int) or set(answer) - {"status", "body"}:
            raise UsageError(f"{path}: the answer for {url} is not {{status, body}}; look-up answers must be {shape}")
    return fixtures.canned_lookup(answers)


def _read_config(path: Path, what: str) -> Any:
    """A settings or look-ups file: JSON by its suffix (fast on large answer files), else YAML."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UsageError(f"{path}: cannot read {what}: {exc}") from None
    if path.suffix == ".json":
        try:
            return json.loads(text)
        except ValueError as exc:
            raise UsageError(f"{path}: {what} is not valid JSON ({exc})") from None
    try:
        return yaml.load(text, Loader=_YAML_LOADER)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise UsageError(f"{path}{where}: {what} is not valid YAML") from None


# 20 digits in a row may be an integer past 64 bits, which orjson would read as a float (losing digits).
_LONG_DIGITS = re.compile(r"\d{20}")


def _parse(text: str) -> Any:
    """orjson for speed; the standard library for what orjson refuses or reads differently (NaN,
    integers past 64 bits) and for its error message, so the result never depends on the parser."""
    if _LONG_DIGITS.search(text):
        return json.loads(text)
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return json.loads(text)


def _line_writer() -> Any:
    """Write one result as a line of compact JSON (bytes straight to stdout's buffer when it has one)."""
    buffer = getattr(sys.stdout, "buffer", None)

    def write(result: dict[str, Any]) -> None:
        try:
            data = orjson.dumps(result, option=orjson.OPT_APPEND_NEWLINE)
        except TypeError:  # an integer past 64 bits: the standard library writes it
            data = (compact_json(result) + "\n").encode("utf-8")
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))

    return write


class _Unreadable:
    """An input that could not be parsed: it still yields one (error) result, in its place."""

    def __init__(self, reason: str) -> None:
        self.reason = reason


def _read_events(names: list[str]) -> Iterator[tuple[dict[str, Any], Any]]:
    for name in names:
        label = "<stdin>" if name == "-" else name
        handle: IO[str] = sys.stdin if name == "-" else open(name, encoding="utf-8")  # noqa: SIM115
        try:
            yield from _events_in(handle, label)
        finally:
            if handle is not sys.stdin:
                handle.close()


def _events_in(handle: IO[str], label: str) -> Iterator[tuple[dict[str, Any], Any]]:
    """NDJSON line by line, or a JSON array element by element: memory stays flat either way."""
    line_no = 0
    for line in handle:
        line_no += 1
        text = line.strip()
        if not text:
            continue
        if text.startswith("["):
            yield from _array_events(line.lstrip(), handle, label)
            return
        yield from _ndjson_events(line, line_no, handle, label)
        return


def _ndjson_events(first: str, first_no: int, handle: IO[str], label: str) -> Iterator[tuple[dict[str, Any], Any]]:
    def parsed(text: str, number: int) -> tuple[dict[str, Any], Any]:
        metadata = {"file": label, "line": number}
        try:
            return metadata, _parse(text)
        except ValueError as exc:
            return metadata, _Unreadable(f"{label}:{number}: not valid JSON ({exc})")

    yield parsed(first, first_no)
    for number, line in enumerate(handle, start=first_no + 1):
        if line.strip():
            yield parsed(line, number)


def _array_events(start: str, handle: IO[str], label: str) -> Iterator[tuple[dict[str, Any], Any]]:
    decoder = json.JSONDecoder()
    buffer, pos, eof, index = start, 1, False, 0

    def more() -> bool:
        nonlocal buffer, pos, eof
        chunk = handle.read(_CHUNK)
        if not chunk:
            eof = True
            return False
        buffer = buffer[pos:] + chunk
        pos = 0
        return True

    def skip_space() -> str:
        nonlocal pos
        while True:
            while pos < len(buffer) and buffer[pos] in " \t\r\n":
                pos += 1
            if pos < len(buffer) or not more():
                return buffer[pos] if pos < len(buffer) else ""

    expect_item = True
    if skip_space() == "]":
        return
    while True:
        if expect_item:
            try:
                value, end = decoder.raw_decode(buffer, pos)
            except ValueError as exc:
                if not eof and more():
                    continue
                yield {"file": label, "index": index}, _Unreadable(
                    f"{label}: element {index} of the JSON array is not valid JSON ({exc}); the rest of the file is unreadable")
                return
            if end == len(buffer) and not eof and more():
                continue  # the value may go on in the next chunk (a number, say): decode it again
            pos = end
            yield {"file": label, "index": index}, value
            index += 1
            expect_item = False
            continue
        separator = skip_space()
        if separator == ",":
            pos += 1
            skip_space()
            expect_item = True
        elif separator == "]":
            return
        else:
            yield {"file": label, "index": index}, _Unreadable(
                f"{label}: expected ',' or ']' after element {index - 1} of the JSON array; the rest of the file is unreadable")
            return


class _Progress:
    """A self-overwriting line on stderr, at most a few times a second, only on a terminal."""

    def __init__(self, enabled: bool) -> None:
        self.enabled = enabled
        self.count = 0
        self.start = self.last = time.monotonic()

    def tick(self) -> None:
        self.count += 1
        if self.enabled and self.count % 256 == 0:
            now = time.monotonic()
            if now - self.last >= 0.25:
                self.last = now
                rate = self.count / max(now - self.start, 1e-9)
                print(f"\r{self.count:,} events ({rate:,.0f}/s)", end="", file=sys.stderr, flush=True)

    def done(self) -> None:
        if self.enabled and self.count >= 256:
            print("\r\033[K", end="", file=sys.stderr, flush=True)


# -- check ------------------------------------------------------------------------------------

def _check(args: argparse.Namespace) -> int:
    folders = args.folders or builtin_destinations()
    failed = False
    for folder in folders:
        try:
            destination = load(folder)
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                print(problem)
            continue
        print(f"ok: {destination.folder} ({destination.name}: {', '.join(destination.event_types)})")
    return EXIT_EVENT_ERRORS if failed else EXIT_OK


# -- test -------------------------------------------------------------------------------------

def _test(args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or folder")
    custom = Destination.from_folder(args.mappings) if args.mappings else None
    loaded: dict[str, Destination] = {}
    passed = failed = 0
    for path in fixtures.find(args.path):
        try:
            data = fixtures.read(path)
        except fixtures.FixtureError as exc:
            print(f"ERROR {exc}")
            failed += 1
            continue
        if args.destination and data["destination"] != args.destination:
            continue
        if custom is not None and data["destination"] != custom.name:
            continue
        destination = custom or loaded.get(data["destination"])
        if destination is None:
            destination = loaded[data["destination"]] = load(data["destination"])
        try:
            actual = fixtures.run(data, destination)
        except fixtures.FixtureError as exc:
            print(f"FAIL {path}: {exc}")
            failed += 1
            continue
        if actual == data.get("expected"):
            passed += 1
            continue
        failed += 1
        print(f"FAIL {path}: {data['name']}")
        sys.stdout.writelines(difflib.unified_diff(
            _pretty(data.get("expected")), _pretty(actual), "expected", "actual"))
    print(f"{passed} passed, {failed} failed")
    return EXIT_EVENT_ERRORS if failed or not passed else EXIT_OK


def _pretty(value: Any) -> list[str]:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").splitlines(keepends=True)
