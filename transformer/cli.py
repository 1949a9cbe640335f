"""The ``transformer`` command: run events through a destination, check mappings, run fixtures."""
from __future__ import annotations

import argparse
import codecs
import difflib
import io
import itertools
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from functools import partial
from pathlib import Path
from typing import IO, Any

import orjson

from . import __version__, builtin_destinations, fixtures, load, parallel, send_cli
from .destination import Destination
from .errors import MappingError, TransformError
from .explain import render as render_explanation
from .lookups import Lookup
from .scaffold import ScaffoldError, scaffold
from .suggest import did_you_mean
from .values import has_surrogate, printable
from .wire import json_line
from .yamlsource import parse_yaml

EXIT_OK, EXIT_EVENT_ERRORS, EXIT_USAGE, EXIT_INTERRUPTED = 0, 1, 2, 130
_CHUNK = 1 << 16  # what a JSON array is read by
_READ = 1 << 18  # what NDJSON is read by, at most: a block of inputs (about 500 of 500 bytes)


class UsageError(Exception):
    """Bad arguments, unreadable files, bad settings: exit 2 before (or instead of) any output."""


def main(argv: Sequence[str] | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        _say(f"transformer: {exc}")
        return EXIT_USAGE
    except MappingError as exc:
        _say("transformer: the mappings have problems:")
        for problem in exc.problems:
            _say(f"  {problem}")
        return EXIT_USAGE
    except BrokenPipeError:  # e.g. piped into `head`: results were lost, so say so
        _say("transformer: standard output was closed before every result was written")
        _drop_stdout()
        return EXIT_USAGE
    except OSError as exc:  # a file or stream failed after the run began (a disk error, a closed stream)
        _say(f"transformer: {exc}")
        return EXIT_USAGE
    except KeyboardInterrupt:  # Ctrl-C outside the event loop (which reports its own summary)
        _say("transformer: interrupted")
        return EXIT_INTERRUPTED


def _drop_stdout() -> None:
    """Point stdout at devnull: what is still buffered for the closed pipe would otherwise fail
    again when Python flushes it at exit ("Exception ignored ... BrokenPipeError")."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        os.close(devnull)
    except (AttributeError, OSError, ValueError):  # not a real file (a test's capture): nothing to flush
        pass


def _say(text: str, end: str = "\n") -> None:
    """Write to stderr, if there is one: with stderr closed, print would write to stdout instead."""
    if sys.stderr is not None:
        print(text, end=end, file=sys.stderr, flush=True)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="transformer", description=(
        "Turn analytics events into API request descriptions using YAML mapping folders."))
    parser.add_argument("--version", action="version", version=f"transformer {__version__}")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    run = commands.add_parser("run", help="transform events (NDJSON or a JSON array) into request descriptions",
                              description="Read events from FILEs (or stdin) as NDJSON or a JSON array and write one "
                                          "result per line (NDJSON) to stdout, in order. Exit 0 when every event "
                                          "transformed, 1 when some were errors, 2 on usage or configuration problems.")
    run.add_argument("files", nargs="*", metavar="FILE", help="event files; none or '-' reads stdin")
    run.add_argument("--destination", "-d", required=True, help=_DESTINATION_HELP)
    run.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    run.add_argument("--lookups", type=Path, help="canned look-up answers: JSON/YAML object URL -> {status, body}; "
                                                  "URLs not listed answer 404")
    run.add_argument("--batch", action="store_true", help="pack successful results into batch requests")
    run.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")
    run.add_argument("--jobs", "-j", default="1", metavar="N",
                     help="transform in N worker processes (0 or 'auto': one per CPU); output order is kept")
    run.set_defaults(handler=_run)

    check = commands.add_parser("check", help="validate mapping folders",
                                description="Validate mapping folders against the mapping schema and compile them. "
                                            "Prints each problem as file:line: yaml.path: message; exit 1 on any.")
    check.add_argument("folders", nargs="*", metavar="MAPPING_DIR",
                       help="mapping folders (default: those in ./mappings when there is one, else the built-in ones)")
    check.set_defaults(handler=_check)

    test = commands.add_parser("test", help="run fixture files and show a diff for each mismatch",
                               description="Run fixture files against their destination (or --mappings) and print a "
                                           "unified diff of expected vs actual for each mismatch; exit 1 on any.")
    test.add_argument("path", nargs="?", default="fixtures", type=Path, metavar="FIXTURES_DIR",
                      help="a fixture file or a folder of them (default: fixtures)")
    where = test.add_mutually_exclusive_group()
    where.add_argument("--destination", "-d", help="run only fixtures of this destination")
    where.add_argument("--mappings", type=Path, help="run the fixtures of this mapping folder's destination against it")
    test.add_argument("--update", action="store_true",
                      help="accept the changes: rewrite each mismatching fixture's expected (review the diff before committing)")
    test.set_defaults(handler=_test)

    explain = commands.add_parser("explain", help="show which rule gave each field of one event's request, and why",
                                  description="Transform one event and show, for every output field (and every rule "
                                              "that left one out), the file:line and rule that decided it, where the "
                                              "value came from, and each candidate tried (missing, null, empty, "
                                              "condition false). Exit 0 when the event transformed, 1 when it is an error.")
    explain.add_argument("event", type=Path, metavar="EVENT_FILE", help="one event as a JSON object ('-' reads stdin)")
    explain.add_argument("--destination", "-d", required=True, help=_DESTINATION_HELP)
    explain.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    explain.add_argument("--lookups", type=Path, help="canned look-up answers, as for run")
    explain.add_argument("--json", action="store_true", help="print the explanation as JSON (Destination.explain's data)")
    explain.set_defaults(handler=_explain)

    new = commands.add_parser("new", help="start a new destination: a mapping folder and a fixture that pass check and test",
                              description="Create mappings/NAME (destination.yaml with settings, track.yaml) and "
                                          "fixtures/NAME/track.json under --root, ready to edit; check and test pass at once.")
    new.add_argument("name", metavar="NAME", help="the destination's name (letters, digits, _)")
    new.add_argument("--root", type=Path, default=Path("."), help="where mappings/ and fixtures/ are (default: here)")
    new.set_defaults(handler=_new)

    send_cli.add_command(commands)  # transformer send: in its own module (it needs the [http] extra)

    studio = commands.add_parser("studio", help="edit a destination's mappings on a local page, with its request, "
                                                "each field's trace and its fixtures (needs the [studio] extra)")
    studio.add_argument("target", nargs="?", default=".", metavar="FOLDER|DESTINATION",
                        help="a mapping folder, or a name in ./mappings (default: the current folder)")
    studio.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (default: a free one, printed)")
    studio.add_argument("--fixtures", type=Path, help="the fixtures folder (default: fixtures/NAME beside mappings/)")
    studio.set_defaults(handler=_studio)
    return parser


def _studio(args: argparse.Namespace) -> int:
    """Imported here only: the studio's web stack is an extra the rest of the CLI never needs."""
    try:
        from .studio import studio_command
    except ModuleNotFoundError as exc:
        if (exc.name or "").split(".")[0] not in ("starlette", "uvicorn"):
            raise
        raise UsageError("studio needs the [studio] extra: pip install 'event-transformer[studio]'") from None
    return studio_command(_resolve(args.target), args.port, args.fixtures)


# -- run --------------------------------------------------------------------------------------

def _run(args: argparse.Namespace) -> int:
    destination, settings = _destination_and_settings(args)
    lookup = None if args.lookups is None else _canned_lookup(args.lookups)
    if args.batch and not destination.supports_batching:
        raise UsageError(f"destination {destination.name} declares no batching")
    try:
        jobs = parallel.job_count(args.jobs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    names = args.files or ["-"]
    _check_streams(names)

    progress = _Progress(enabled=sys.stderr is not None and sys.stderr.isatty() and not args.no_progress)
    counts: Counter[int] = Counter()
    # Events are transformed a block at a time: here, the lines each read of the input brought (so
    # no result waits for input yet to arrive); by --jobs workers, parallel.CHUNK lines at a time.
    work = partial(_transform_block, destination, settings, lookup, not args.batch)

    def results() -> Iterator[Any]:
        """Each block's results, counted: its output lines as one bytes, or (batching) its results."""
        blocks = _blocks_of_jobs(work, names, jobs) if jobs > 1 else map(work, _read_blocks(names))
        for statuses, block in blocks:
            counts.update(statuses)
            progress.advance(len(statuses))
            yield block

    write = _line_writer()
    written = 0
    stream = destination.iter_batches(itertools.chain.from_iterable(results()), settings) if args.batch else results()
    interrupted = False
    try:
        for result in stream:
            write(result)
            written += 1
        sys.stdout.flush()
    except KeyboardInterrupt:  # Ctrl-C: what was written stands, and the summary says how far it got
        interrupted = True
        sys.stdout.flush()
    progress.done()
    total = sum(counts.values())
    errors = total - counts[200]
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()) if status != 200)
    summary = f"{destination.name}: {total} events, {counts[200]} transformed, {errors} errors"
    summary += f" ({by_status})" if errors else ""
    summary += f"; {written} lines written" if args.batch else ""
    summary += "; interrupted" if interrupted else ""
    _say(summary)
    return EXIT_INTERRUPTED if interrupted else EXIT_EVENT_ERRORS if errors else EXIT_OK


def _destination_and_settings(args: argparse.Namespace) -> tuple[Destination, Any]:
    """What run, explain and send start from: the destination named by --destination (saying
    which folder it came from) and the --settings file, checked against it (a problem is exit 2)."""
    destination = _load(args.destination, sys.stderr)
    settings = _read_config(args.settings, "settings")
    try:
        destination.check_settings(settings)
    except TransformError as exc:
        raise UsageError(str(exc)) from None
    return destination, settings


def _check_streams(names: list[str]) -> None:
    """Every input readable and stdout open, before any output (a problem found later would come
    after some results)."""
    if sys.stdout is None:
        raise UsageError("standard output is closed")
    for name in names:
        if name == "-":
            if sys.stdin is None:
                raise UsageError("standard input is closed (give event FILEs instead)")
            continue
        if not Path(name).is_file():
            raise UsageError(f"{name}: no such file")
        try:
            open(name, "rb").close()  # noqa: SIM115
        except OSError as exc:
            raise UsageError(f"{name}: cannot read ({exc.strerror})") from None


def _transform_block(destination: Destination, settings: Any, lookup: Any, encode: bool,
                     block: Block) -> tuple[list[int], Any]:
    """The results of a block of inputs (run's own or a --jobs worker's), as one bytes of output
    lines when ``encode``, else as a list, with their status codes for the summary."""
    config = {"Config": settings}  # one for every input: the engine only reads it
    process_one = destination.process_one
    statuses: list[int] = []
    results: list[dict[str, Any]] = []
    # Each line is copied in as soon as it is encoded, and dropped: holding a block's lines (each
    # its own allocation) until a join cost 2 µs an event more.
    lines = bytearray()
    for metadata, message in block.records() if isinstance(block, _Lines) else block:
        result: dict[str, Any]
        if message.__class__ is _Unreadable:
            result = {"error": message.reason, "statusCode": 400, "metadata": metadata}
        else:
            result = process_one({"message": message, "destination": config, "metadata": metadata}, lookup=lookup)
        statuses.append(result["statusCode"])
        if encode:
            lines += _line_bytes(result)
        else:
            results.append(result)
    return statuses, bytes(lines) if encode else results


def _blocks_of_jobs(work: Any, names: list[str], jobs: int) -> Iterator[tuple[list[int], Any]]:
    try:
        # NDJSON lines travel as plain bytes, parsed by the workers: pickling an object per line
        # cost more than parsing it, and splitting them into inputs cost the reading process as much.
        yield from parallel.ordered_map(work, _tasks(_read_blocks(names), parallel.CHUNK), jobs)
    except parallel.WorkerFailed as exc:
        raise UsageError(str(exc)) from None


def _tasks(blocks: Iterable[Block], size: int) -> Iterator[Block]:
    """The blocks as --jobs tasks of at most ``size`` inputs: NDJSON blocks cut, JSON array elements
    (a block each) gathered."""
    elements: list[Record] = []
    for block in blocks:
        if not isinstance(block, _Lines):
            elements += block
            if len(elements) >= size:
                yield elements
                elements = []
            continue
        if elements:
            yield elements
            elements = []
        for start in range(0, len(block.lines), size):
            yield _Lines(block.label, block.first + start, block.lines[start:start + size])
    if elements:
        yield elements


def _canned_lookup(path: Path) -> Lookup:
    """A lookup function answering from a --lookups file."""
    answers = _read_config(path, "lookups")
    problem = fixtures.answers_problem(answers)
    if problem is not None:
        raise UsageError(f"{path}: {problem}")
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
        except RecursionError:
            raise UsageError(f"{path}: {what} is nested too deeply to read") from None
    source, problems = parse_yaml(text, str(path))
    if problems or source is None:
        raise UsageError(f"{what} is not usable YAML: {problems[0]}")
    return source.data


# An integer of 20 digits, or of 19 below zero, may lie outside 64 bits, which orjson would read as a
# float (losing digits): the standard library reads such text. Found as a run of 20 bytes that are
# digits or "-" (each mapped to "0", any other byte to " "), one search for both kinds: ten times
# faster than a regular expression, which cost more than orjson's parse itself. A run that is no
# such integer (a long phone number in a string) only takes the slower path to the same event.
_DIGIT_BYTES = bytes(48 if 48 <= byte <= 57 or byte == 45 else 32 for byte in range(256))
_LONG_DIGITS = b"0" * 20
_JSON_SPACE = b" \t\r\n"
_BOM = b"\xef\xbb\xbf"


def _parse(data: bytes) -> Any:
    """orjson for speed; the standard library for what orjson refuses or reads differently (NaN,
    lone surrogate escapes, integers past 64 bits) and for its error message, so the result never
    depends on the parser. Raises UnicodeDecodeError, another ValueError, or RecursionError."""
    if _LONG_DIGITS not in data.translate(_DIGIT_BYTES):
        try:
            return orjson.loads(data)
        except orjson.JSONDecodeError:
            pass
    return json.loads(data.decode("utf-8"))


def _without_bom(data: bytes) -> bytes:
    """Input text without the UTF-8 byte order mark some editors put first (every reader skips it)."""
    return data[len(_BOM):] if data.startswith(_BOM) else data


def _event(data: bytes, where: str) -> Any:
    """One input's event, or _Unreadable saying why it is not one (``where`` names the input)."""
    try:
        return _parse(data)
    except UnicodeDecodeError as exc:
        return _Unreadable(f"{where}: not valid UTF-8 (byte {exc.start + 1} is 0x{data[exc.start]:02x})", data)
    except ValueError as exc:
        return _Unreadable(f"{where}: not valid JSON ({exc})", data)
    except RecursionError:
        return _Unreadable(f"{where}: nested too deeply to read", data)


def _line_bytes(result: dict[str, Any]) -> bytes:
    try:
        return json_line(result)
    except UnicodeEncodeError:  # never from the library; escaped rather than lose the line
        return (json.dumps(result, separators=(",", ":")) + "\n").encode("ascii")


def _line_writer() -> Any:
    """Write one result as a line of compact JSON (bytes straight to stdout's buffer when it has one);
    bytes are a block's lines already encoded, flushed at once: the next read may wait for input,
    and what was read so far has its results out meanwhile."""
    buffer = getattr(sys.stdout, "buffer", None)

    def write(result: dict[str, Any] | bytes) -> None:
        data = result if isinstance(result, bytes) else _line_bytes(result)
        if buffer is not None:
            buffer.write(data)
        else:
            sys.stdout.write(data.decode("utf-8"))
        if data is result:
            (buffer or sys.stdout).flush()

    return write


class _Unreadable:
    """An input that could not be parsed: it still yields one (error) result, in its place.
    ``raw`` is its text as read (None when there is none, e.g. a missing ']'), so `send` can
    write it to the dead letter."""

    def __init__(self, reason: str, raw: bytes | None = None) -> None:
        self.reason = reason
        self.raw = raw


Record = tuple[dict[str, Any], Any]


class _Lines:
    """A block of NDJSON lines as read (each with its b"\\n", the input's last maybe without), the
    first numbered ``first``: parsed only where they are transformed (by a --jobs worker)."""

    __slots__ = ("first", "label", "lines")

    def __init__(self, label: str, first: int, lines: list[bytes]) -> None:
        self.label, self.first, self.lines = label, first, lines

    def records(self, after_array: bool = False) -> Iterator[Record]:
        """(metadata, event) for each line that is not blank; after a JSON array, each is an error."""
        label = self.label
        # One look at the whole block for integers past 64 bits: a block without any is parsed by
        # orjson straight away, sparing each line _parse's own look (a third of its cost).
        loads = _parse if _LONG_DIGITS in b"".join(self.lines).translate(_DIGIT_BYTES) else orjson.loads
        for number, line in enumerate(self.lines, start=self.first):
            if not line.strip(_JSON_SPACE):
                continue
            if after_array:
                event = _Unreadable(f"{label}:{number}: text after the end of the JSON array (a file holds NDJSON "
                                    "or one JSON array)", line)
            else:
                try:
                    event = loads(line)
                except (ValueError, RecursionError):  # what orjson refuses: _parse reads it, or says why not
                    event = _event(line, f"{label}:{number}")
            yield {"file": label, "line": number}, event


Block = _Lines | list[Record]


def _read_events(names: list[str]) -> Iterator[Record]:
    """Every input of the files (or stdin, for "-"), in order, as (metadata, event)."""
    for block in _read_blocks(names):
        yield from block.records() if isinstance(block, _Lines) else block


def _read_blocks(names: list[str]) -> Iterator[Block]:
    """Every input of the files, in order, in blocks: the NDJSON lines one read brought, or one
    element of a JSON array as [(metadata, event)]."""
    for name in names:
        label = printable(name) if name != "-" else "<stdin>"
        handle = _stdin_bytes() if name == "-" else open(name, "rb")  # noqa: SIM115
        try:
            yield from _blocks_in(handle, label)
        finally:
            if name != "-":
                handle.close()


def _stdin_bytes() -> io.BufferedIOBase:
    buffer: io.BufferedIOBase | None = getattr(sys.stdin, "buffer", None)
    if buffer is not None:
        return buffer
    return io.BytesIO(sys.stdin.read().encode("utf-8", "surrogateescape"))  # a text stream put in its place


def _blocks_in(handle: io.BufferedIOBase, label: str) -> Iterator[Block]:
    """NDJSON, or a JSON array element by element (the first byte that is not white space says
    which): memory stays flat either way. Bytes are read, so a line that is not UTF-8 is one error
    in its place."""
    for number, line in enumerate(handle, start=1):
        if number == 1:
            line = _without_bom(line)
        text = line.strip(_JSON_SPACE)  # only JSON's white space: a line of "\xa0" is an input
        if not text:
            continue
        if text.startswith(b"["):
            yield from ([record] for record in _array_events(line, number, handle, label))
            return
        for lines in itertools.chain([[line]], _lines_as_read(handle)):
            yield _Lines(label, number, lines)
            number += len(lines)
        return


def _lines_as_read(handle: io.BufferedIOBase, start: bytes = b"") -> Iterator[list[bytes]]:
    """The lines still to read (``start`` begins the first), each with its b"\\n" (the input's last
    maybe without), in a list per read: what one read brought goes on before the next read, which
    may wait for input. A line longer than a read is joined once, when its end has come."""
    begun = [start] if start else []
    while chunk := handle.read1(_READ):
        lines = io.BytesIO(chunk).readlines()
        if not lines[0].endswith(b"\n"):  # no line ends in this read
            begun.append(chunk)
            continue
        if begun:
            lines[0] = b"".join([*begun, lines[0]])
        begun = [] if lines[-1].endswith(b"\n") else [lines.pop()]
        yield lines
    if begun:
        yield [b"".join(begun)]


_NOT_SPACE = re.compile(r"[^ \t\r\n]")
_IN_STRING = re.compile(r'["\\\n]')
_OUTSIDE_STRING = re.compile(r'["\[\]{},]')


def _array_events(first: bytes, first_no: int, handle: io.BufferedIOBase, label: str) -> Iterator[Record]:
    """The elements of a JSON array, each decoded once from a buffer of a few chunks. An element
    that does not decode is found by scanning to the ',' or ']' that ends it (outside strings and
    brackets), reported in its place, and the elements after it are read on."""
    utf8 = codecs.getincrementaldecoder("utf-8")("surrogateescape")
    decode = utf8.decode
    decoder = json.JSONDecoder()
    buffer = decode(first)
    pos = buffer.index("[") + 1
    lines_before = first_no - 1  # newlines before buffer[0]
    eof = False
    index = 0

    def more() -> int:
        """Append a chunk, dropping what is before pos; how far positions moved (-1 at the end).
        A chunk is at least as large as the element read so far, so a large element is copied a
        few times, not once per chunk."""
        nonlocal buffer, pos, lines_before, eof
        chunk = handle.read(max(_CHUNK, len(buffer) - pos))
        if not chunk:
            eof = True
            buffer += decode(b"", True)
            return -1
        shift = pos
        lines_before += buffer.count("\n", 0, pos)
        buffer = buffer[pos:] + decode(chunk)
        pos = 0
        return shift

    def next_char() -> str:
        nonlocal pos
        while (match := _NOT_SPACE.search(buffer, pos)) is None:
            pos = len(buffer)
            if more() < 0:
                return ""
        pos = match.start()
        return buffer[pos]

    def extent() -> int:
        """Where the element at pos ends: the index of its closing ',' or ']' (len(buffer) at the end)."""
        at, in_string = pos, False
        open_brackets: list[str] = []
        still_open = {"[": 0, "{": 0}
        while True:
            match = (_IN_STRING if in_string else _OUTSIDE_STRING).search(buffer, at)
            if match is None or match.group() == "\\" and match.end() == len(buffer):
                at = match.start() if match is not None else len(buffer)
                shift = more()
                if shift < 0:
                    return len(buffer)
                at -= shift
                continue
            char, at = match.group(), match.end()
            if in_string:
                # An escape skips a character; a raw newline cannot be in a JSON string, so a string
                # left open ends there and the scan finds its way back to the elements.
                at += char == "\\"
                in_string = char == "\\"
            elif char == '"':
                in_string = True
            elif char in "[{":
                open_brackets.append(char)
                still_open[char] += 1
            elif char in "]}":
                # A closer closes its own kind (and whatever is left open inside it); a ']' with no
                # '[' open in the element is the array's own end, even after a '{' left open.
                kind = "[" if char == "]" else "{"
                if still_open[kind]:
                    while (opened := open_brackets.pop()) != kind:
                        still_open[opened] -= 1
                    still_open[kind] -= 1
                elif char == "]":
                    return match.start()
            elif not open_brackets:
                return match.start()

    def element(expected_value: bool) -> Any:
        nonlocal pos
        if expected_value:
            try:
                value, end = decoder.raw_decode(buffer, pos)
                if end < len(buffer) or eof:
                    if not has_surrogate(buffer[pos:end]):  # decoded with surrogateescape: a byte not UTF-8
                        pos = end
                        return value
            except (ValueError, RecursionError):
                pass
        end = extent()  # may read on: pos then moves, still at the element's start
        text, start_line = buffer[pos:end], lines_before + buffer.count("\n", 0, pos) + 1
        pos = end
        where = f"{label}: element {index} of the JSON array (line {start_line})"
        if not expected_value:
            return _Unreadable(f"{where}: expected ',' or ']' before it", text.encode("utf-8", "surrogateescape"))
        return _event(text.encode("utf-8", "surrogateescape"), where)

    expect_value = True
    while True:
        char = next_char()
        if char == "":  # a truncated array: every element read so far has had its result; so has the end
            yield {"file": label, "index": index}, _Unreadable(
                f"{label}: the JSON array is not closed (no ']' after element {index - 1})" if index else
                f"{label}: the JSON array is not closed (no ']')")
            return
        if char == "]":
            pos += 1
            break
        if char == "," and not expect_value:
            pos += 1
            expect_value = True
            continue
        yield {"file": label, "index": index}, element(expect_value)
        index += 1
        expect_value = False
    # What follows the array must be white space: any other line is an error in its place.
    line = lines_before + buffer.count("\n", 0, pos) + 1
    rest = io.BytesIO(buffer[pos:].encode("utf-8", "surrogateescape") + utf8.getstate()[0]).readlines()
    begun = rest.pop() if rest and not rest[-1].endswith(b"\n") else b""
    for lines in itertools.chain([rest], _lines_as_read(handle, begun)):
        yield from _Lines(label, line, lines).records(after_array=True)
        line += len(lines)


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
                _say(f"\r{self.count:,} events ({rate:,.0f}/s)", end="")

    def advance(self, done: int) -> None:
        """``done`` more events: shown as if one at a time, when there is a line to show."""
        if not self.enabled:
            self.count += done
            return
        for _ in range(done):
            self.tick()

    def done(self) -> None:
        if self.enabled and self.count >= 256:
            _say("\r\033[K", end="")


# -- where mappings come from ------------------------------------------------------------

WORKING_COPY = Path("mappings")
_DESTINATION_HELP = ("a destination's name or a mapping folder. A name means ./mappings/NAME when the current "
                     "folder has one (a checkout you edit), else the installed built-in "
                     f"({', '.join(builtin_destinations())})")


def _resolve(name: str) -> str | Path:
    """What a destination name means on the command line: inside a checkout (a folder with
    mappings/NAME/destination.yaml) the files you edit, else the built-in of that name. Paths stay paths."""
    local = WORKING_COPY / name
    if "/" not in name and "\\" not in name and (local / "destination.yaml").is_file():
        return local.resolve()
    return name


def _resolvable(name: str) -> bool:
    """Whether a destination name (not a path) means a mapping folder here or a built-in."""
    return isinstance(_resolve(name), Path) or name in builtin_destinations()


def _load(name: str, report: IO[str]) -> Destination:
    """Load a destination by name or folder and say which folder it came from."""
    destination = load(_resolve(name))
    print(f"transformer: {destination.name} from {destination.folder}", file=report)
    return destination


# -- check ------------------------------------------------------------------------------------

def _check(args: argparse.Namespace) -> int:
    folders = args.folders or _default_folders()
    failed = False
    for folder in folders:
        try:
            destination = load(_resolve(str(folder)))
        except MappingError as exc:
            failed = True
            for problem in exc.problems:
                print(problem)
            continue
        print(f"ok: {destination.folder} ({destination.name}: {', '.join(destination.event_types)})")
    return EXIT_EVENT_ERRORS if failed else EXIT_OK


def _default_folders() -> list[str]:
    """The working copy's mapping folders when there is one, else the built-in destinations."""
    local = sorted(p.parent.resolve() for p in WORKING_COPY.glob("*/destination.yaml"))
    return [str(p) for p in local] or builtin_destinations()


# -- test -------------------------------------------------------------------------------------

def _test(args: argparse.Namespace) -> int:
    if not args.path.exists():
        raise UsageError(f"{args.path}: no such file or folder")
    if args.destination and not _resolvable(args.destination):
        known = {p.parent.name for p in WORKING_COPY.glob("*/destination.yaml")} | set(builtin_destinations())
        raise UsageError(f"no destination {args.destination!r}{did_you_mean(args.destination, known)} "
                         f"(known: {', '.join(sorted(known))})")
    custom = _load(str(args.mappings), sys.stdout) if args.mappings else None
    loaded: dict[str, Destination] = {}
    passed = failed = updated = 0
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
            try:
                destination = loaded[data["destination"]] = _load(data["destination"], sys.stdout)
            except MappingError as exc:
                print(f"ERROR {path}: destination {data['destination']!r}: {exc.problems[0].message}")
                failed += 1
                continue
        try:
            actual = fixtures.run(data, destination)
        except fixtures.FixtureError as exc:
            print(f"FAIL {path}: {exc}")
            failed += 1
            continue
        if actual == data.get("expected"):
            passed += 1
            continue
        if args.update:  # the same text the golden test compares, so it passes too
            path.write_text(fixtures.render(data, actual), encoding="utf-8")
            updated += 1
        else:
            failed += 1
        print(f"{'UPDATED' if args.update else 'FAIL'} {path}: {data['name']}")
        sys.stdout.writelines(difflib.unified_diff(
            _pretty(data.get("expected")), _pretty(actual), "expected", "actual"))
    if not passed and not failed and not updated:  # say why nothing ran rather than leave "0 passed" to puzzle over
        wanted = args.destination or (custom.name if custom is not None else None)
        print(f"no fixtures in {args.path}" + (f" for destination {wanted}" if wanted else ""))
    print(f"{passed} passed, {failed} failed" + (f", {updated} updated" if args.update else ""))
    return EXIT_EVENT_ERRORS if failed or not passed + updated else EXIT_OK


def _pretty(value: Any) -> list[str]:
    return (json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True) + "\n").splitlines(keepends=True)


# -- explain ----------------------------------------------------------------------------------

def _explain(args: argparse.Namespace) -> int:
    destination, settings = _destination_and_settings(args)
    lookup = None if args.lookups is None else _canned_lookup(args.lookups)
    label = "<stdin>" if str(args.event) == "-" else printable(str(args.event))
    try:
        text = _stdin_bytes().read() if str(args.event) == "-" else args.event.read_bytes()
    except OSError as exc:
        raise UsageError(f"{label}: cannot read the event: {exc}") from None
    event = _event(_without_bom(text), label)  # read as `run` reads an input
    if isinstance(event, _Unreadable):
        raise UsageError(f"{event.reason} (not one JSON event)")
    data = destination.explain(event, settings, lookup=lookup)
    # The event's own text (a lone surrogate, say) is shown escaped: the output always encodes.
    sys.stdout.write(printable(json.dumps(data, indent=2, ensure_ascii=False) + "\n" if args.json
                               else render_explanation(data)))
    return EXIT_OK if "request" in data else EXIT_EVENT_ERRORS


# -- new --------------------------------------------------------------------------------------

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
