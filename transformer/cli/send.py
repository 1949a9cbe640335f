"""``transformer send``: transform, look up and deliver events; one outcome per input on stdout.

Registered by transformer.cli; reads events as `transformer run` does (inputs, records). The sending itself is ``transformer.delivery``
(the ``[http]`` extra), imported only when the command runs, so the core CLI works without it.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import math
import os
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
    report_lookups,
)
from .inputs import read_events
from .output import line_writer
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
    send.add_argument("--lookups-may-miss", action="store_true",
                      help="with a FILE: send even while no look-up has matched an entry (each miss answers 404)")
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
    send.add_argument("--journal", type=Path, metavar="FILE",
                      help="record each outcome here as it happens; run again with the same journal and input to send "
                           "only what was not confirmed delivered")
    send.add_argument("--summary-json", type=Path, metavar="FILE", help="also write the summary here, as JSON")
    send.add_argument("--metrics-port", type=int, metavar="PORT",
                      help="serve Prometheus metrics at http://127.0.0.1:PORT/metrics (0: a free port; needs the "
                           "[metrics] extra)")
    send.set_defaults(handler=_send)


def _send(args: argparse.Namespace) -> int:
    try:
        from ..delivery import Sender
    except ImportError:
        raise UsageError("transformer send needs the [http] extra: pip install 'event-transformer[http]'") from None
    destination, settings = destination_and_settings(args)  # a name means ./mappings/NAME in a checkout
    canned = None if args.lookups == "live" else canned_lookup(Path(args.lookups), destination, settings,
                                                                    not (args.dry_run or args.lookups_may_miss))
    if args.concurrency < 1:
        raise UsageError("--concurrency must be at least 1")
    if args.timeout is not None and not (math.isfinite(args.timeout) and args.timeout > 0):
        raise UsageError(f"--timeout {args.timeout}: expected a finite number of seconds more than 0")
    rate_limit = _rate_limit(args.rate_limit, UsageError)
    names = args.files or ["-"]
    check_streams(names)  # as run does: every input readable, stdout open, before any output
    _check_outputs(names, args, UsageError)
    batch = destination.supports_batching and not args.no_batch
    with Sender(destination, concurrency=args.concurrency, timeout=args.timeout, rate_limit=rate_limit) as sender:
        lookup = canned or sender.lookup
        if args.dry_run:
            code = _dry_run(destination, settings, names, lookup, batch)
            report_lookups(canned)
            return code
        with contextlib.ExitStack() as stack:
            stack.callback(report_lookups, canned)  # after the summary, however the run ends
            journal = stack.enter_context(_journal(args.journal, UsageError)) if args.journal else None
            dead_letter = stack.enter_context(_open(args.dead_letter, UsageError)) if args.dead_letter else None
            if args.metrics_port is not None:
                stack.callback(_serve_metrics(sender, args.metrics_port, UsageError).shutdown)
            return _deliver(sender, settings, names, lookup, batch, dead_letter, journal, args)


def _deliver(sender: Any, settings: Any, names: list[str], lookup: Any, batch: bool, dead_letter: IO[bytes] | None,
             journal: Any, args: argparse.Namespace) -> int:
    from ..delivery.progress import Progress

    # The engine sees a sequence number as metadata; the input's own place ({file, line}) and
    # message wait here until its outcome is written, then go to stdout and the dead letter.
    pending: dict[int, tuple[dict[str, Any], Any]] = {}
    fans_out = sender.destination.fans_out
    first_pending = [0]  # outcomes come in input order: inputs before this one's are done
    last_read: list[dict[str, Any]] = []

    def inputs() -> Iterator[dict[str, Any]]:
        for seq, (where, message) in enumerate(read_events(names)):
            pending[seq] = (where, message)
            last_read[:] = [where]
            # An unreadable line still takes its turn (as a message the engine refuses); its
            # outcome then says why it was unreadable.
            readable = not isinstance(message, Unreadable)
            yield {"message": message if readable else None, "destination": {"Config": settings}, "metadata": seq}

    write = line_writer()
    tally = _Tally(sender, args)
    progress = Progress(sender.stats, names, enabled=sys.stderr.isatty() and not args.no_progress)
    with _ctrl_c(sender) as interrupts, progress:
        try:
            for outcome in sender.run(inputs(), lookup=lookup, batch=batch, journal=journal):
                seq = outcome["metadata"]
                while fans_out and first_pending[0] < seq:  # several outcomes per input: kept until the next one's
                    pending.pop(first_pending[0], None)
                    first_pending[0] += 1
                where, message = pending[seq] if fans_out else pending.pop(seq)
                outcome["metadata"] = where
                if isinstance(message, Unreadable):
                    outcome["error"] = message.reason
                write(outcome)
                tally.add(outcome)
                if outcome["outcome"] not in _DONE and dead_letter is not None:
                    line = _dead_line(message, Unreadable)
                    if line is not None:
                        dead_letter.write(line)
                        tally.dead += 1
        except KeyboardInterrupt:  # the second Ctrl-C: cut the tries under way, and go
            sender.abort()
            sys.stdout.flush()
            print(f"transformer send: quit at once; {len(pending)} inputs read have no outcome (sent or not: unknown"
                  + ("; the journal has each one confirmed delivered" if journal is not None else "") + ")",
                  file=sys.stderr)
            tally.finish(EXIT_INTERRUPTED, interrupts)
            return EXIT_INTERRUPTED
    sys.stdout.flush()
    if sender.stopped:
        after = compact_json(last_read[0]) if last_read else "nothing"
        tally.finish(EXIT_INTERRUPTED, interrupts)
        print(f"transformer send: interrupted; the last input read was {after}: each input up to it has its "
              "outcome on stdout, the inputs after it were not read", file=sys.stderr)
        return EXIT_INTERRUPTED
    return tally.finish(EXIT_EVENT_ERRORS if tally.undelivered else EXIT_OK, interrupts)


# Outcomes that need no second run: not written to the dead letter.
_DONE = frozenset({"delivered", "skipped", "no_request"})


class _Tally:
    """The counts of the outcomes written, and the summary made of them (stderr, --summary-json)."""

    def __init__(self, sender: Any, args: argparse.Namespace) -> None:
        self.sender, self.args = sender, args
        self.counts: Counter[str] = Counter()
        self.failed_statuses: Counter[Any] = Counter()
        self.dead = 0
        self.start = time.monotonic()

    def add(self, outcome: dict[str, Any]) -> None:
        self.counts[outcome["outcome"]] += 1
        if outcome["outcome"] == "failed":
            self.failed_statuses[outcome["status"]] += 1

    @property
    def undelivered(self) -> int:
        return sum(self.counts.values()) - sum(self.counts[kind] for kind in _DONE)

    def finish(self, code: int, interrupts: list[int]) -> int:
        """Print the summary (and write it as JSON when asked); ``code``."""
        counts, sender, args = self.counts, self.sender, self.args
        total = sum(counts.values())
        seconds = max(time.monotonic() - self.start, 1e-9)
        statuses = ", ".join(f"{s}: {n}" for s, n in sorted(self.failed_statuses.items(), key=lambda i: str(i[0])))
        summary = (f"{sender.destination.name}: {total} events, {counts['delivered']} delivered, {counts['failed']} failed"
                   + (f" ({statuses})" if statuses else "")
                   + f", {counts['gave_up']} gave up, {counts['interrupted']} interrupted"
                   + (f", {counts['skipped']} skipped (delivered before, says the journal)" if args.journal else "")
                   + (f", {counts['no_request']} with no request" if counts["no_request"] else "")
                   + f"; {sender.client.requests_sent} requests in {seconds:.1f} s ({total / seconds:,.0f} events/s)")
        cache = sender.lookup.cache
        if cache is not None and cache.hits:
            summary += f"; {cache.hits} look-ups answered from the cache"
        if args.dead_letter is not None:
            summary += f"; {self.dead} written to {args.dead_letter}"
        print(summary, file=sys.stderr)
        if args.summary_json is not None:
            data = {"destination": sender.destination.name, "events": total,
                    **{kind: counts[kind] for kind in ("delivered", "failed", "gave_up", "interrupted", "skipped", "no_request")},
                    "failed_by_status": {str(s): n for s, n in self.failed_statuses.items()},
                    "requests": sender.client.requests_sent, "seconds": round(seconds, 3),
                    "events_per_second": round(total / seconds, 1), "dead_letter": self.dead,
                    "interrupted_by": "Ctrl-C" if interrupts else None, "exit_status": code}
            try:
                args.summary_json.write_text(json.dumps(data, indent=2) + "\n", encoding="utf-8")
            except OSError as exc:
                print(f"transformer send: {args.summary_json}: cannot write the summary: {exc.strerror}", file=sys.stderr)
        return code


@contextlib.contextmanager
def _ctrl_c(sender: Any) -> Iterator[list[int]]:
    """The first Ctrl-C stops the run (tries under way end by their deadline); the second raises
    KeyboardInterrupt. Yields the signals seen."""
    seen: list[int] = []

    def on_interrupt(signum: int, frame: Any) -> None:
        seen.append(signum)
        if sender.stopped:
            raise KeyboardInterrupt
        sender.stop()
        print("\ntransformer send: stopping; requests under way finish (within the timeout), nothing new is sent "
              "(Ctrl-C again to quit at once)", file=sys.stderr, flush=True)

    try:
        previous: Any = signal.signal(signal.SIGINT, on_interrupt)
    except ValueError:  # not the main thread (cli.main called from a thread): Ctrl-C is not ours to handle
        previous = None
    try:
        yield seen
    finally:
        if previous is not None:
            signal.signal(signal.SIGINT, previous)


def _dry_run(destination: Any, settings: Any, names: list[str], lookup: Any, batch: bool) -> int:
    from ..delivery.redact import for_request

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
            result["output"] = for_request(destination.secret_values(settings), result["output"]).request(result["output"])
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
    if limit.requests < 1 or not (math.isfinite(limit.per_seconds) and limit.per_seconds > 0):
        raise usage(f"--rate-limit {text}: expected N/SECONDS with N at least 1 and SECONDS a finite number more than 0")
    return limit


def _check_outputs(names: list[str], args: argparse.Namespace, usage: type[Exception]) -> None:
    """No file send writes is one it reads (opening it would empty the input before it is read),
    nor another file it writes."""
    outputs = [(option, path) for option, path in (("--dead-letter", args.dead_letter), ("--journal", args.journal),
                                                   ("--summary-json", args.summary_json)) if path is not None]
    for i, (option, path) in enumerate(outputs):
        if not path.exists():
            continue
        for name in names:
            if name != "-" and os.path.samefile(name, path):
                raise usage(f"{option} {path}: it is also an input; write it elsewhere (to replay a dead letter, "
                            "give it as the input and a new file as --dead-letter)")
        for other, other_path in outputs[i + 1:]:
            if other_path.exists() and os.path.samefile(path, other_path):
                raise usage(f"{option} and {other} name the same file: {path}")


def _open(path: Path, usage: type[Exception]) -> IO[bytes]:
    try:
        return open(path, "wb")  # noqa: SIM115 (closed by the caller)
    except OSError as exc:
        raise usage(f"{path}: cannot write the dead letter: {exc.strerror}") from None


def _journal(path: Path, usage: type[Exception]) -> Any:
    from ..delivery import Journal

    try:
        return Journal(path)
    except OSError as exc:
        raise usage(f"{path}: cannot use it as the journal: {exc.strerror}") from None


def _serve_metrics(sender: Any, port: int, usage: type[Exception]) -> Any:
    from ..delivery.metrics import serve

    try:
        server = serve(sender.stats, sender.destination.name, port)
    except ImportError as exc:
        raise usage(str(exc)) from None
    except OSError as exc:
        raise usage(f"--metrics-port {port}: cannot listen: {exc.strerror}") from None
    print(f"transformer send: metrics at http://127.0.0.1:{server.server_port}/metrics", file=sys.stderr)
    return server
