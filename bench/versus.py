"""python -m bench.versus REV [--destination kustomer|segment] [--events N] [--rounds R]

The engine at git revision REV against the engine in this clone, and both against the hand-written
baseline, in one process, interleaved (old, new and baseline alternate every round, so machine
noise hits all three alike): processor mode, µs/event per event type and overall, medians. What a
change bought, measured on a noisy machine: two full `python -m bench` runs minutes apart differ by
more than most single changes do.

Both engines load this clone's mapping folder, so only the engine differs; they must give the same
output on every event, or the comparison stops. REV's package is extracted with `git archive` and
imported under another name (the package imports itself only relatively).
"""
from __future__ import annotations

import argparse
import importlib
import io
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path
from typing import Any

from . import workloads
from .compare import Workload, interleaved

ROOT = Path(__file__).resolve().parent.parent


def engine_at(revision: str, into: Path) -> Any:
    """The ``transformer`` package as it was at ``revision``, imported as ``transformer_at_rev``."""
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "transformer"], capture_output=True, check=False)
    if archive.returncode != 0:
        raise SystemExit(f"git archive {revision}: {archive.stderr.decode(errors='replace').strip()}")
    with tarfile.open(fileobj=io.BytesIO(archive.stdout)) as tar:
        tar.extractall(into)  # this clone's own files, from its own git
    (into / "transformer").rename(into / "transformer_at_rev")
    sys.path.insert(0, str(into))
    return importlib.import_module("transformer_at_rev")


def compare(work: Workload, old: Any, rounds: int) -> list[tuple[str, float, float, float]]:
    """Per group (overall, then each type): the old engine's, the new one's and the baseline's µs/event."""
    new, hand, lookup = work.destination, work.baseline, work.lookup
    assert hand is not None
    inputs = work.inputs
    for item in inputs:
        if old.process_one(item, lookup=lookup) != new.process_one(item, lookup=lookup):
            raise SystemExit(f"the two engines differ on {str(item['message'])[:300]}: a speed comparison would mean nothing")

    def run_old(items: list[Any]) -> None:
        for item in items:
            old.process_one(item, lookup=lookup)

    def run_new(items: list[Any]) -> None:
        for item in items:
            new.process_one(item, lookup=lookup)

    def run_baseline(items: list[Any]) -> None:
        for item in items:
            hand.process_one(item, lookup)

    medians = interleaved(work, {"processor": (inputs, {"old": run_old, "new": run_new, "baseline": run_baseline})}, rounds)
    return [(group, medians[("processor", group, "old")] * 1e6, medians[("processor", group, "new")] * 1e6,
             medians[("processor", group, "baseline")] * 1e6) for group in ["overall", *work.types]]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.versus", description=__doc__.split("\n\n")[1])
    parser.add_argument("revision", help="a git revision of this clone: a commit, a tag, HEAD~3")
    parser.add_argument("--destination", choices=sorted(workloads.BASELINES), default="kustomer")
    parser.add_argument("--events", type=int, default=12_000, help="events per round (default 12,000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported (default 7)")
    args = parser.parse_args(argv)
    work = (workloads.kustomer if args.destination == "kustomer" else workloads.segment)(args.events)
    if work.baseline_mismatch() is not None:
        raise SystemExit(work.baseline_mismatch())
    with tempfile.TemporaryDirectory() as folder:
        package = engine_at(args.revision, Path(folder))
        try:
            old = package.Destination.from_folder(work.folder)
            rows = compare(work, old, args.rounds)
        finally:  # another call may ask for another revision: nothing of this one stays importable
            sys.path.remove(folder)
            for name in [name for name in sys.modules if name.partition(".")[0] == "transformer_at_rev"]:
                del sys.modules[name]
    print(f"{args.destination}, processor mode: the engine at {args.revision} (old) and in this clone (new), µs/event")
    print(f"{'':10} {'old':>7} {'new':>7} {'baseline':>9} {'new/old':>8} {'old/baseline':>13} {'new/baseline':>13}")
    for group, old_us, new_us, hand_us in rows:
        print(f"{group:10} {old_us:7.2f} {new_us:7.2f} {hand_us:9.2f} {old_us / new_us:7.3f}x "
              f"{hand_us / old_us:12.3f}x {hand_us / new_us:12.3f}x")
    return 0


if __name__ == "__main__":
    sys.exit(main())
