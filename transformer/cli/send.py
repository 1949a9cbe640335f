"""``transformer send``: transform, look up and deliver events; one outcome per input on stdout.

Registered by transformer.cli; reads events as `transformer run` does (inputs, records). The sending itself is ``transformer.delivery``
(the ``[http]`` extra), imported only when the command runs, so the core CLI works without it.
"""
from __future__ import annotations

import argparse
import json
import signal
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from ..language.delivery_rules import DEFAULT_CONCURRENCY, RateLimit
from ..runtime.processor import NO_REQUEST
from ..runtime.wire import compact_json
from .common import (
    EXIT_EVENT_ERRORS,
    EXIT_INTERRUPTED,
    EXIT_OK,
    UsageError,
    canned_lookup,
    check_streams,
    destination_and_settings,
)
from .inputs import read_events
from .output import line_writer
from .progress import Progress
from .records import Unreadable


def add_command(commands: Any) -> None:
    send = commands.add_parser(
        "send", help="transform, look up and deliver events over HTTP (needs the [http] extra)",
        description="Read events from FILEs (or stdin), transform them, perform look-ups, and send the requests by the "
                    "destination's delivery rules (rate limit, retries). Writes one outcome per input (NDJSON) to "
                    "stdout, in order; a summary to stderr. Exit 0 when every event was delivered, 1 when some were "
                    "not, 2 on usage or configuration problems, 130 when interrupted (Ctrl-C: requests under way "
                    "finish, nothing new is sent, every input read gets its outcome).")
    send.add_argument("files", nargs="*", metavar="FILE", help="event files; none or '-' reads stdin")
    send.add_argument("--destination", "-d", required=True, help="a destination's name or a mapping folder, as for run")
    send.add_argument("--settings", "-s", required=True, type=Path, help="the destination's settings (YAML or JSON)")
    send.add_argument("--lookups", default="live", metavar="live|FILE",
                      help="'live' (default): perform look-ups over HTTP; FILE: canned answers, URL -> {status, body}")
    send.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, metavar="N",
                      help=f"requests under way at once (default {DEFAULT_CONCURRENCY})")
    send.add_argument("--dead-letter", type=Path, metavar="FILE",
                      help="write each event not delivered here, one JSON line each, to replay as is")
    send.add_argument("--dry-run", action="store_true",
                      help="print the requests (credentials redacted) instead of sending them; look-ups are still performed")
    send.add_argument("--no-batch", action="store_true", help="one request per event even when the destination batches")
    send.add_argument("--rate-limit", metavar="N/SECONDS", help="replaces the destination's rate limit, e.g. 1000/60")
    send.add_argument("--timeout", type=float, metavar="SECONDS", help="replaces the destination's timeout")
    send.add_argument("--no-progress", action="store_true", help="no progress line even on a terminal")
    send.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    try:
        from ..delivery import Sender
    except ImportError:
        raise UsageError("transformer send needs the [http] extra: pip install 'event-transformer[http]'") from None
    destination, settings = destination_and_settings(args)  # a name means ./mappings/NAME in a checkout
    canned = None if args.lookups == "live" else canned_lookup(Path(args.lookups))
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.timeout is not None and args.timeout <= 0:
        raise UsageError("--timeout must be more than 0")
    rate_limit = _rate_limit(args.rate_limit, UsageError)
    names = args.files or ["-"]
    check_streams(names)  # as run does: every input readable, stdout open, before any output
    batch = destination.supports_batching and not args.no_batch
    with Sender(destination, concurrency=args.concurrency, timeout=args.timeout, rate_limit=rate_limit) as sender:
        lookup = canned or sender.lookup
        if args.dry_run:
            return _dry_run(destination, settings, names, lookup, batch)
        dead_letter = _open(args.dead_letter, UsageError)
        try:
            return _deliver(sender, settings, names, lookup, batch, dead_letter, args)
        finally:
            if dead_letter is not None:
                dead_letter.close()


def _deliver(sender: Any, settings: Any, names: list[str], lookup: Any, batch: bool,
             dead_letter: IO[bytes] | None, args: argparse.Namespace) -> int:

    # The engine sees a sequence number as metadata; the input's own place ({file, line}) and
    # message wait here until its outcome is written, then go to stdout and the dead letter.
    pending: dict[int, tuple[dict[str, Any], Any]] = {}
    fans_out = sender.destination.fans_out
    last_read: list[dict[str, Any]] = []

    def inputs() -> Iterator[dict[str, Any]]:
        for seq, (where, message) in enumerate(read_events(names)):
            pending[seq] = (where, message)
            last_read[:] = [where]
            # An unreadable line still takes its turn (as a message the engine refuses); its
            # outcome then says why it was unreadable.
            readable = not isinstance(message, Unreadable)
            yield {"message": message if readable else None, "destination": {"Config": settings}, "metadata": seq}

    def on_interrupt(signum: int, frame: Any) -> None:
        if sender.stopped:
            raise KeyboardInterrupt
        sender.stop()
        print("\ntransformer send: stopping; requests under way finish, nothing new is sent "
              "(Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    try:
        previous: Any = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (cli.main called from a thread): Ctrl-C is not ours to handle
        previous = None
    write = line_writer()
    progress = Progress(enabled=sys.stderr.isatty() and not args.no_progress)
    counts: Counter[str] = Counter()
    failed_statuses: Counter[Any] = Counter()
    dead = 0
    start = time.monotonic()
    try:
        for outcome in sender.run(inputs(), lookup=lookup, batch=batch):
            # An input that fans out has several outcomes, so it stays (memory grows with the input then).
            seq = outcome["metadata"]
            where, message = pending[seq] if fans_out else pending.pop(seq)
            outcome["metadata"] = where
            if isinstance(message, Unreadable):
                outcome["error"] = message.reason
            write(outcome)
            counts[outcome["outcome"]] += 1
            if outcome["outcome"] == "failed":
                failed_statuses[outcome["status"]] += 1
            if outcome["outcome"] not in ("delivered", "skipped") and dead_letter is not None:
                line = _dead_line(message, Unreadable)
                if line is not None:
                    dead_letter.write(line)
                    dead += 1
            progress.tick()
    except KeyboardInterrupt:  # the second Ctrl-C
        sys.stdout.flush()
        print(f"transformer send: quit at once; {len(pending)} inputs read have no outcome (sent or not: unknown)",
              file=sys.stderr)
        return EXIT_INTERRUPTED
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)
    sys.stdout.flush()
    progress.done()
    total = sum(counts.values())
    seconds = max(time.monotonic() - start, 1e-9)
    statuses = ", ".join(f"{s}: {n}" for s, n in sorted(failed_statuses.items(), key=lambda i: str(i[0])))
    summary = (f"{sender.destination.name}: {total} events, {counts['delivered']} delivered, {counts['failed']} failed"
               + (f" ({statuses})" if statuses else "")
               + f", {counts['gave_up']} gave up, {counts['interrupted']} interrupted"
               + (f", {counts['skipped']} with no request" if counts["skipped"] else "")
               + f"; {sender.client.requests_sent} requests"
               + f" in {seconds:.1f} s ({total / seconds:,.0f} events/s)")
    cache = sender.lookup.cache
    if cache is not None and cache.hits:
        summary += f"; {cache.hits} look-ups answered from the cache"
    undelivered = total - counts["delivered"] - counts["skipped"]  # skipped: an event that makes no request
    if dead_letter is not None:
        summary += f"; {dead} written to {args.dead_letter}"
    print(summary, file=sys.stderr)
    if sender.stopped:
        after = compact_json(last_read[0]) if last_read else "nothing"
        print(f"transformer send: interrupted; the last input read was {after}: each input up to it has its "
              "outcome on stdout, the inputs after it were not read", file=sys.stderr)
        return EXIT_INTERRUPTED
    return EXIT_EVENT_ERRORS if undelivered else EXIT_OK


def _dry_run(destination: Any, settings: Any, names: list[str], lookup: Any, batch: bool) -> int:
    from ..delivery.client import redacted_headers

    def results() -> Iterator[dict[str, Any]]:
        for where, message in read_events(names):
            if isinstance(message, Unreadable):
                yield {"error": message.reason, "statusCode": 400, "metadata": where}
            else:
                yield from destination.process_each({"message": message, "destination": {"Config": settings},
                                                     "metadata": where}, lookup=lookup)

    write = line_writer()
    errors = requests = 0
    for result in destination.iter_batches(results(), settings) if batch else results():
        if "output" in result:
            result["output"]["headers"] = redacted_headers(result["output"]["headers"])
            requests += 1
        errors += result["statusCode"] not in (200, NO_REQUEST)
        write(result)
    sys.stdout.flush()
    print(f"{destination.name}: dry run, nothing sent; {requests} requests written, {errors} errors", file=sys.stderr)
    return EXIT_EVENT_ERRORS if errors else EXIT_OK


def _dead_line(message: Any, unreadable: type[Any]) -> bytes | None:
    """An input's dead-letter line: the text read when it was not JSON (on one line), else the
    event as ASCII JSON (a lone surrogate stays an escape, so every event can be written and read
    back); None when there is no text (a missing ']')."""
    if isinstance(message, unreadable):
        return None if message.raw is None else b" ".join(message.raw.splitlines()).strip() + b"\n"
    return (json.dumps(message, separators=(",", ":")) + "\n").encode("ascii")


def _rate_limit(text: str | None, usage: type[Exception]) -> RateLimit | None:
    if text is None:
        return None
    requests, _, seconds = text.partition("/")
    try:
        limit = RateLimit(int(requests), float(seconds or 1))
    except ValueError:
        raise usage(f"--rate-limit {text}: expected N/SECONDS, e.g. 1000/60") from None
    if limit.requests < 1 or limit.per_seconds <= 0:
        raise usage(f"--rate-limit {text}: expected N/SECONDS with N at least 1 and SECONDS more than 0")
    return limit


def _open(path: Path | None, usage: type[Exception]) -> IO[bytes] | None:
    if path is None:
        return None
    try:
        return open(path, "wb")  # noqa: SIM115 (closed by the caller)
    except OSError as exc:
        raise usage(f"{path}: cannot write the dead letter: {exc}") from None
