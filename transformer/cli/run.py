"""``transformer run``: events in, one result per input out (NDJSON), in order; optionally
batched, or transformed by --jobs worker processes."""
from __future__ import annotations

import argparse
import itertools
import sys
from collections import Counter
from collections.abc import Iterable, Iterator
from functools import partial
from pathlib import Path
from typing import Any

from ..engines import parallel
from ..runtime.destination import Destination
from ..runtime.processor import NO_REQUEST
from .common import (
    DESTINATION_HELP,
    EXIT_EVENT_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    canned_lookup,
    check_streams,
    destination_and_settings,
    note,
    report_lookups,
    say,
)
from .inputs import read_blocks
from .output import line_bytes, line_writer
from .progress import Progress
from .records import Block, Lines, Record, Unreadable


def add_command(commands: Any) -> None:
    run = commands.add_parser("run", help="transform events (NDJSON or a JSON array) into request descriptions",
                              description="Read events from FILEs (or stdin) as NDJSON or a JSON array and write one "
                                          "result per line (NDJSON) to stdout, in order. Exit 0 when every event "
                                          "transformed, 1 when some were errors, 2 on usage or configuration problems.")
    run.add_argument("files", nargs="*", metavar="FILE", help="event files; none or '-' reads stdin")
    run.add_argument("--destination", "-d", required=True, help=DESTINATION_HELP)
    run.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    run.add_argument("--lookups", type=Path, help="canned look-up answers: JSON/YAML object URL -> {status, body}; "
                                                  "URLs not listed answer 404")
    run.add_argument("--batch", action="store_true", help="pack successful results into batch requests")
    run.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")
    run.add_argument("--jobs", "-j", default="1", metavar="N",
                     help="transform in N worker processes (0 or 'auto': one per CPU); output order is kept")
    run.set_defaults(handler=_run)


def _run(args: argparse.Namespace) -> int:
    destination, settings = destination_and_settings(args)
    lookup = None if args.lookups is None else canned_lookup(args.lookups, destination, settings)
    if args.batch and not destination.supports_batching:
        raise UsageError(f"destination {destination.name} declares no batching")
    try:
        jobs = parallel.job_count(args.jobs)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if jobs > (cpus := parallel.usable_cpus()):
        say(f"transformer: --jobs {jobs}: at most {cpus} worker processes, one per CPU this process may use "
            "(more would not transform faster)")
        jobs = cpus
    names = args.files or ["-"]
    check_streams(names)

    progress = Progress(enabled=sys.stderr is not None and sys.stderr.isatty() and not args.no_progress)
    counts: Counter[int] = Counter()
    inputs = [0]  # with fan-out, an input may give several results (or one with no request)
    # Events are transformed a block at a time: here, the lines each read of the input brought (so
    # no result waits for input yet to arrive), by --jobs workers too (JSON array elements: CHUNK at a time).
    work = partial(transform_block, destination, settings, lookup, not args.batch)

    def results() -> Iterator[Any]:
        """Each block's results, counted: its output lines as one bytes, or (batching) its results."""
        blocks = _blocks_of_jobs(work, names, jobs) if jobs > 1 else map(work, read_blocks(names))
        for statuses, read, block in blocks:
            counts.update(statuses)
            inputs[0] += read
            progress.advance(read)
            yield block

    write = line_writer()
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
    errors = total - counts[200] - counts[NO_REQUEST]
    by_status = ", ".join(f"{status}: {n}" for status, n in sorted(counts.items()) if status not in (200, NO_REQUEST))
    if destination.fans_out:  # a line is a result: an input may give several, or one with no request
        summary = (f"{destination.name}: {inputs[0]} events, {total} results: {counts[200]} requests, "
                   f"{errors} errors" + (f" ({by_status})" if errors else "") + f", {counts[NO_REQUEST]} with no request")
    else:
        summary = f"{destination.name}: {total} events, {counts[200]} transformed, {errors} errors"
        summary += f" ({by_status})" if errors else ""
    summary += f"; {written} lines written" if args.batch else ""
    summary += "; interrupted" if interrupted else ""
    note(summary)
    report_lookups(lookup)
    return EXIT_INTERRUPTED if interrupted else EXIT_EVENT_ERRORS if errors else EXIT_OK


def transform_block(destination: Destination, settings: Any, lookup: Any, encode: bool,
                     block: Block) -> tuple[list[int], int, Any]:
    """The results of a block of inputs (run's own or a --jobs worker's), as one bytes of output
    lines when ``encode``, else as a list, with their status codes and the number of inputs for
    the summary."""
    config = {"Config": settings}  # one for every input: the engine only reads it
    process_one = destination.process_one
    fans_out = destination.fans_out
    statuses: list[int] = []
    results: list[dict[str, Any]] = []
    # Each line is copied in as soon as it is encoded, and dropped: holding a block's lines (each
    # its own allocation) until a join cost 2 µs an event more.
    lines = bytearray()
    read = 0
    for metadata, message in block.records() if isinstance(block, Lines) else block:
        read += 1
        result: dict[str, Any]
        if message.__class__ is Unreadable:
            result = {"error": message.reason, "statusCode": 400, "metadata": metadata}
        elif fans_out:  # one line per request, several for one input: written by the loop below
            each = destination.process_each({"message": message, "destination": config, "metadata": metadata},
                                            lookup=lookup)
            result = each.pop()
            statuses.extend(earlier["statusCode"] for earlier in each)
            if encode:
                lines += b"".join(map(line_bytes, each))
            else:
                results.extend(each)
        else:
            result = process_one({"message": message, "destination": config, "metadata": metadata}, lookup=lookup)
        statuses.append(result["statusCode"])
        if encode:
            lines += line_bytes(result)
        else:
            results.append(result)
    return statuses, read, bytes(lines) if encode else results


def _blocks_of_jobs(work: Any, names: list[str], jobs: int) -> Iterator[tuple[list[int], int, Any]]:
    try:
        # NDJSON lines travel as plain bytes, parsed by the workers: pickling an object per line
        # cost more than parsing it, and splitting them into inputs cost the reading process as much.
        yield from parallel.ordered_map(work, _tasks(read_blocks(names), parallel.CHUNK), jobs)
    except parallel.WorkerFailed as exc:
        raise UsageError(str(exc)) from None


def _tasks(blocks: Iterable[Block], size: int) -> Iterator[Block]:
    """The blocks as --jobs tasks: an NDJSON block (one read's whole lines) as it is, JSON array
    elements (a block each) gathered ``size`` at a time."""
    elements: list[Record] = []
    for block in blocks:
        if not isinstance(block, Lines):
            elements += block
            if len(elements) >= size:
                yield elements
                elements = []
            continue
        if elements:
            yield elements
            elements = []
        yield block
    if elements:
        yield elements
