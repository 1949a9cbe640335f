"""python -m bench [--events N] [--rounds R] [--cli-events N] [--hold-events N] [--jobs-events N [N ...]] [--json PATH]
python -m bench --mappings FOLDER [--event-file NDJSON --settings FILE] [--lookups FILE] [--events N] [--rounds R]

Measures, in one process and interleaved (engine and baseline alternate every round, so machine
noise hits both alike): µs/event and events/s per event type and overall, and the engine/baseline
throughput ratio, for Kustomer and for Segment, each against its hand-written baseline, in two
modes over the same events: "shared" (a pipeline passing the same few settings objects) and
"processor" (every input carries its own settings dict, parsed from JSON, in the processor shape).
Then: each step that rewrites every key of an object against the dict comprehension doing the
same work (python -m bench.steps), the load+compile time of the Kustomer mappings, `transformer
run` on a large NDJSON file against a small one (throughput and peak memory), `transformer run --batch` (Segment)
against `process` + `batch` in process, `process()` holding its results against streaming (the cyclic garbage
collector's share), and `transformer run --jobs` against `--jobs 1` on each --jobs-events size. With --mappings,
only the per-type table for that folder (against a baseline only where one was written for it).
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import json
import os
import platform
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import transformer
from transformer.cli.fixtures import canned_lookup

from . import steps, workloads
from .compare import (
    Workload,
    check_equal,
    mappings_digest,
    print_throughput,
    processor_inputs,
    throughput,
)
from .events import (
    CLI_SETTINGS,
    SEGMENT_SETTINGS,
    generate,
    generate_segment,
    lookup_answers,
)

ROOT = Path(__file__).resolve().parent.parent


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__.split("\n\n")[1])
    parser.add_argument("--events", type=int, default=20_000, help="in-process events per round (default 20,000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported (default 7)")
    parser.add_argument("--cli-events", type=int, default=100_000, help="events in the large CLI file (default 100,000)")
    parser.add_argument("--hold-events", type=int, default=50_000, help="inputs for process() vs streaming (default 50,000)")
    parser.add_argument("--jobs-events", type=int, nargs="+", default=[100_000, 200_000],
                        help="events in each --jobs file (default 100,000 and 200,000)")
    parser.add_argument("--json", type=Path, help="also write the figures to this JSON file")
    parser.add_argument("--mappings", type=Path, metavar="FOLDER",
                        help="only the per-type table for this mapping folder (against its baseline where it has one)")
    parser.add_argument("--event-file", type=Path, metavar="NDJSON", help="with --mappings: the events, one a line")
    parser.add_argument("--settings", type=Path, metavar="FILE", help="with --mappings: the settings (YAML or JSON)")
    parser.add_argument("--lookups", type=Path, metavar="FILE", help="with --mappings: canned look-up answers "
                        "(JSON, URL -> {status, body}, as transformer run --lookups); others answer 404")
    parser.add_argument("--digest", type=Path, metavar="FOLDER", help="print a mapping folder's digest (MAPPINGS_SHA256) and stop")
    args = parser.parse_args(argv)
    if args.digest:
        print(mappings_digest(args.digest))
        return 0
    if args.mappings:
        work = workloads.for_folder(args.mappings, args.events, args.event_file, args.settings, args.lookups)
        rows = compared(work, args.rounds)
        print_throughput(str(work.folder), rows)
        if args.json:
            args.json.write_text(json.dumps(rows, indent=2) + "\n")
        return 0

    kustomer, segment = workloads.kustomer(args.events), workloads.segment(args.events)
    figures: dict[str, Any] = {"machine": machine(), "events": args.events, "rounds": args.rounds}
    figures["load_before"] = os.getloadavg()[0]
    figures["throughput"] = {"kustomer": compared(kustomer, args.rounds), "segment": compared(segment, args.rounds)}
    figures["steps"] = steps.measure()
    figures["load_ms"] = load_times()
    with installed_bytecode() as how:
        figures["cli_bytecode"] = how
        figures["cli"] = cli_run(kustomer.destination, args.cli_events)
        figures["batch"] = batch_run(segment.destination, args.cli_events)
        figures["jobs"] = jobs_run(args.jobs_events)
    figures["hold"] = holding(kustomer.destination, args.hold_events)
    figures["load_after"] = os.getloadavg()[0]
    print_table(figures)
    if args.json:
        args.json.write_text(json.dumps(figures, indent=2) + "\n")
    return 0


def compared(work: Workload, rounds: int) -> dict[str, Any]:
    """Throughput per type, against the baseline when it was written for these very mappings (and
    gives the same output: the benchmark stops otherwise); the engine alone, said why, when not."""
    mismatch = work.baseline_mismatch()
    if mismatch is None:
        check_equal(work, workloads.REFUSED.get(work.folder.name, ()), workloads.hostile_cases(work))
    else:
        print(f"{mismatch}: the engine alone", file=sys.stderr)
    # The benchmark's own event lists stay alive throughout: left to the cyclic collector, its full
    # rescans of them would land at random in one subject's timing. What holding data costs a
    # caller is measured on its own, below ("process() on N inputs").
    gc.freeze()
    return throughput(work, rounds, with_baseline=mismatch is None)


def machine() -> dict[str, Any]:
    return {"python": platform.python_version(), "platform": platform.platform(), "cpus": os.cpu_count(),
            "processor": platform.processor() or platform.machine()}


def holding(kustomer: transformer.Destination, count: int) -> dict[str, Any]:
    """`process()` on a list keeps every result, as its caller asked; streaming keeps none. What
    holding costs is the cyclic garbage collector rescanning the held inputs and results; measured
    as they are, after gc.freeze() of the inputs, and with the collector off during the call."""
    pairs = generate(count, seed=5)
    answers = lookup_answers(pairs)
    lookup = canned_lookup(answers)
    inputs = processor_inputs(pairs)
    del pairs

    def streaming() -> None:
        for item in inputs:
            kustomer.process_one(item, lookup=lookup)

    def process() -> None:
        kustomer.process(inputs, lookup=lookup)

    def process_frozen() -> None:
        gc.freeze()
        try:
            kustomer.process(inputs, lookup=lookup)
        finally:
            gc.unfreeze()

    def process_gc_off() -> None:
        gc.disable()
        try:
            kustomer.process(inputs, lookup=lookup)
        finally:
            gc.enable()

    subjects = {"streaming": streaming, "process": process, "process_frozen": process_frozen, "process_gc_off": process_gc_off}
    samples: dict[str, list[float]] = {}
    for round_no in range(3):
        for name in (list(subjects) if round_no % 2 == 0 else list(reversed(subjects))):
            gc.collect()
            start = time.perf_counter()
            subjects[name]()
            samples.setdefault(name, []).append(time.perf_counter() - start)
    out: dict[str, Any] = {"events": count}
    for name, times in samples.items():
        out[name] = count / statistics.median(times)
    return out


def load_times(rounds: int = 10) -> dict[str, Any]:
    """Cold: a fresh interpreter's first load (schema compile included); warm: later loads. Wall
    time, and CPU time, which a busy machine inflates less. And issue 26's figure: ``import
    transformer`` plus the first ``load("kustomer")``, timed inside a fresh process from before the
    import to after the load (interpreter start-up excluded).

    Bytecode: a user's installed package has its .pyc files; a clone run under
    PYTHONDONTWRITEBYTECODE=1 has none, and compiles every module from source in every process. So
    the processes run with PYTHONPYCACHEPREFIX set to a temporary folder (and bytecode writing on),
    filled by one run first: every module, the package's too, then loads from bytecode as a user's
    would. The same figure from source (no bytecode for the package) is measured too, alternating."""
    code = ("import time\nt0, c0 = time.perf_counter(), time.process_time()\nimport transformer\n"
            "def load():\n t, c = time.perf_counter(), time.process_time(); transformer.load('kustomer')\n"
            " return time.perf_counter() - t, time.process_time() - c\n"
            "cold = load(); first = (time.perf_counter() - t0, time.process_time() - c0)\n"
            "warm = sorted(load() for _ in range(20))[10]\n"
            "print(*(x * 1e3 for x in (*cold, *warm, *first)))")
    own_bytecode = clone_has_bytecode()
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as prefix:
        compiled = bytecode_env(prefix)
        source = {key: value for key, value in os.environ.items() if key != "PYTHONPYCACHEPREFIX"}
        source["PYTHONDONTWRITEBYTECODE"] = "1"
        subprocess.run([sys.executable, "-c", code], capture_output=True, check=True, cwd=ROOT, env=compiled)
        runs: dict[str, list[list[float]]] = {"bytecode": [], "source": []}
        for round_no in range(rounds):
            for name, env in ([("bytecode", compiled), ("source", source)] if round_no % 2 == 0
                              else [("source", source), ("bytecode", compiled)]):
                done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                                      cwd=ROOT, env=env)
                runs[name].append(list(map(float, done.stdout.split())))
    keys = ("cold_ms", "cold_cpu_ms", "warm_ms", "warm_cpu_ms", "import_load_ms", "import_load_cpu_ms")
    out: dict[str, Any] = {key: statistics.median(run[i] for run in runs["bytecode"]) for i, key in enumerate(keys)}
    out["import_load_source_ms"] = statistics.median(run[4] for run in runs["source"])
    out["import_load_source_cpu_ms"] = statistics.median(run[5] for run in runs["source"])
    out["bytecode"] = PREFIX_BYTECODE
    out["source_bytecode"] = ("the clone's own __pycache__ (it has .pyc files)" if own_bytecode
                              else "none for the package (PYTHONDONTWRITEBYTECODE=1, no __pycache__ in the clone)")
    return out


PREFIX_BYTECODE = "compiled into a temporary PYTHONPYCACHEPREFIX by a first run, as an installed package has it"


def clone_has_bytecode() -> bool:
    """Whether the package here has .pyc files of its own (a clone run without PYTHONDONTWRITEBYTECODE)."""
    return any((ROOT / "transformer").rglob("*.pyc"))


def bytecode_env(prefix: str) -> dict[str, str]:
    """This environment with bytecode written to and read from the folder ``prefix``: after one
    run fills it, every module loads from bytecode, as an installed package's do."""
    env = {key: value for key, value in os.environ.items() if key != "PYTHONDONTWRITEBYTECODE"}
    env["PYTHONPYCACHEPREFIX"] = prefix
    return env


def write_events(folder: Path, label: str, count: int, seed: int) -> list[str]:
    """An NDJSON file of ``count`` events and its look-up answers: the arguments for `transformer run`."""
    settings = folder / "settings.json"
    settings.write_text(json.dumps(CLI_SETTINGS))
    pairs = generate(count, seed=seed)
    events = folder / f"{label}.ndjson"
    with events.open("w") as handle:
        for event, _ in pairs:
            handle.write(json.dumps(event) + "\n")
    lookups = folder / f"{label}-lookups.json"
    lookups.write_text(json.dumps(lookup_answers(pairs)))
    return ["-d", "kustomer", "-s", str(settings), "--lookups", str(lookups), str(events)]


def cli_run(kustomer: transformer.Destination, large: int) -> dict[str, Any]:
    """`transformer run` on NDJSON files (startup, reading, writing and all), against the engine in
    process on the very same events (process_one, look-ups from the same answers); alternating, medians of 3."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        small = run_cli(write_events(folder, "small", 1_000, seed=11))
        args = write_events(folder, "large", large, seed=11)
        pairs = generate(large, seed=11)
        lookup = canned_lookup(lookup_answers(pairs))
        inputs = [{"message": event, "destination": {"Config": CLI_SETTINGS}} for event, _ in pairs]
        del pairs
        runs: list[dict[str, float]] = []
        engine: list[tuple[float, float]] = []
        for _ in range(3):
            runs.append(run_cli(args))
            start, cpu = time.perf_counter(), time.process_time()
            for item in inputs:
                kustomer.process_one(item, lookup=lookup)
            engine.append((time.perf_counter() - start, time.process_time() - cpu))
    cli = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    engine_s, engine_cpu = statistics.median(e[0] for e in engine), statistics.median(e[1] for e in engine)
    return {"events": large, "events_per_s": large / cli["seconds"], "peak_rss_mb": cli["peak_rss_mb"],
            "small_peak_rss_mb": small["peak_rss_mb"], "extra_peak_mb": cli["peak_rss_mb"] - small["peak_rss_mb"],
            "engine_events_per_s": large / engine_s, "ratio_to_engine": engine_s / cli["seconds"],
            "cpu_ratio_to_engine": engine_cpu / cli["cpu_seconds"]}


# The environment `transformer run` is measured in (see installed_bytecode); None: this process's own.
_CLI_ENV: dict[str, str] | None = None


@contextlib.contextmanager
def installed_bytecode() -> Iterator[str]:
    """Within it, `transformer run` is measured as an installed package runs: from bytecode. A clone
    run under PYTHONDONTWRITEBYTECODE=1 (as on the project's machines) would compile every module of
    the package from source at each start, which an installed package never does; so the commands
    run with PYTHONPYCACHEPREFIX set to a temporary folder (bytecode writing on), filled first by one
    run of each kind measured (not timed), as load_times does."""
    global _CLI_ENV
    if clone_has_bytecode():
        yield "the clone's own __pycache__"
        return
    with tempfile.TemporaryDirectory(prefix="bench-pycache-") as prefix, tempfile.TemporaryDirectory() as tmp:
        _CLI_ENV = bytecode_env(prefix)
        try:
            kustomer = write_events(Path(tmp), "warm", 10, seed=3)
            run_cli([*kustomer, "--jobs", "2"])
            (Path(tmp) / "segment.json").write_text(json.dumps(SEGMENT_SETTINGS[0]))
            run_cli(["-d", "segment", "-s", str(Path(tmp) / "segment.json"), "--batch", kustomer[-1]])
            yield PREFIX_BYTECODE
        finally:
            _CLI_ENV = None


def run_cli(args: list[str], codes: tuple[int, ...] = (0,)) -> dict[str, float]:
    """One `transformer run` under bench.peak, which must exit with one of ``codes``: wall and CPU
    seconds (workers included), the main process's own CPU seconds, peak memory."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    with open(os.devnull, "w") as sink:
        done = subprocess.run([sys.executable, "-m", "bench.peak", "run", "--no-progress", *args], stdout=sink,
                              stderr=subprocess.PIPE, text=True, cwd=ROOT, check=False, env=_CLI_ENV)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode not in codes:
        raise SystemExit(f"transformer run failed: {done.stderr}")
    lines = dict(line.split() for line in done.stderr.strip().splitlines()[-3:])
    return {"seconds": elapsed, "cpu_seconds": after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime,
            "main_cpu_seconds": float(lines["main-cpu-s"]),
            "peak_rss_mb": int(lines["peak-rss-kb"]) / 1024, "worker_peak_rss_mb": int(lines["worker-peak-rss-kb"]) / 1024}


def batch_run(segment: transformer.Destination, count: int) -> dict[str, Any]:
    """`transformer run --batch` (Segment; startup, reading, transforming, packing, writing and all)
    against `batch(process(inputs), settings)` in process on the very same events under the same
    settings; alternating, medians of 3. ``ratio``: in-process time / the command's time."""
    settings = SEGMENT_SETTINGS[0]
    pairs = generate_segment(count, seed=17)
    inputs = [{"message": event, "destination": {"Config": settings}} for event, _ in pairs]
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        (folder / "settings.json").write_text(json.dumps(settings))
        with (folder / "events.ndjson").open("w") as handle:
            for event, _ in pairs:
                handle.write(json.dumps(event) + "\n")
        del pairs
        args = ["-d", "segment", "-s", str(folder / "settings.json"), "--batch", str(folder / "events.ndjson")]
        runs: list[dict[str, float]] = []
        engine: list[tuple[float, float]] = []
        for _ in range(3):
            runs.append(run_cli(args, codes=(0, 1)))  # 1: the generator's few events over Segment's size limit
            gc.collect()
            start, cpu = time.perf_counter(), time.process_time()
            batches = segment.batch(segment.process(inputs), settings)
            engine.append((time.perf_counter() - start, time.process_time() - cpu))
            del batches
    cli = {key: statistics.median(r[key] for r in runs) for key in runs[0]}
    engine_s, engine_cpu = statistics.median(e[0] for e in engine), statistics.median(e[1] for e in engine)
    return {"events": count, "events_per_s": count / cli["seconds"], "engine_events_per_s": count / engine_s,
            "ratio": engine_s / cli["seconds"], "cpu_ratio": engine_cpu / cli["cpu_seconds"]}


def jobs_run(counts: list[int]) -> list[dict[str, Any]]:
    """`transformer run --jobs <CPUs>` against `--jobs 1` on a file of each size, alternating,
    medians of 3; and the command on no events (interpreter start, imports, loading the mappings:
    the part no worker shares) and what the main process itself used of a --jobs run's CPU time."""
    jobs = os.cpu_count() or 1
    out: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory() as tmp:
        empty = write_events(Path(tmp), "empty", 0, seed=13)
        starts = [run_cli([*empty, "--jobs", str(jobs)]) for _ in range(3)]
        start = statistics.median(run["seconds"] for run in starts)
        start_cpu = statistics.median(run["cpu_seconds"] for run in starts)
        for count in counts:
            common = write_events(Path(tmp), f"jobs-{count}", count, seed=13)
            runs: dict[int, list[dict[str, float]]] = {1: [], jobs: []}
            for round_no in range(3):
                for n in ([1, jobs] if round_no % 2 == 0 else [jobs, 1]):
                    runs[n].append(run_cli([*common, "--jobs", str(n)]))
            row: dict[str, Any] = {"events": count, "jobs": jobs, "start_seconds": start, "start_cpu_seconds": start_cpu}
            for n, label in ((1, "single"), (jobs, "parallel")):
                median = {key: statistics.median(r[key] for r in runs[n]) for key in runs[n][0]}
                median["events_per_s"] = count / median["seconds"]
                row[label] = median
            single, parallel = row["single"], row["parallel"]
            row["speedup"] = parallel["events_per_s"] / single["events_per_s"]
            row["cpu_ratio"] = parallel["cpu_seconds"] / single["cpu_seconds"]
            # what the main process used beyond its start (reading, handing over, ordering, writing)
            row["main_cpu_after_start"] = parallel["main_cpu_seconds"] - start_cpu
            # Amdahl: the start runs alone; the rest at best split evenly over the workers
            row["ideal_speedup"] = single["seconds"] / (start + (single["seconds"] - start) / jobs)
            row["worker_extra_mb"] = parallel["worker_peak_rss_mb"] - single["peak_rss_mb"]
            out.append(row)
            Path(common[-1]).unlink()
    return out


def print_table(f: dict[str, Any]) -> None:
    m = f["machine"]
    print(f"machine: {m['processor']}, {m['cpus']} cpus, Python {m['python']}, {m['platform']}")
    print(f"load average {f['load_before']:.1f} at the start, {f['load_after']:.1f} at the end "
          f"(the machine may be shared: compare ratios, not absolute figures)")
    print(f"{f['events']:,} events per round, {f['rounds']} interleaved rounds, medians")
    for name, rows in f["throughput"].items():
        print_throughput(name, rows)
    steps.print_steps(f["steps"])
    print()
    load = f["load_ms"]
    print(f"load + compile kustomer: {load['cold_ms']:.1f} ms cold (first in a process; {load['cold_cpu_ms']:.1f} ms CPU), "
          f"{load['warm_ms']:.1f} ms warm ({load['warm_cpu_ms']:.1f} ms CPU)")
    print(f"import transformer + load('kustomer') in a fresh process: {load['import_load_ms']:.1f} ms "
          f"({load['import_load_cpu_ms']:.1f} ms CPU) with bytecode ({load['bytecode']}); "
          f"{load['import_load_source_ms']:.1f} ms ({load['import_load_source_cpu_ms']:.1f} ms CPU) "
          f"with {load['source_bytecode']}")
    cli = f["cli"]
    print(f"the transformer commands below run from bytecode: {f['cli_bytecode']}")
    print(f"transformer run: {cli['events']:,} events at {cli['events_per_s']:,.0f} ev/s, {cli['ratio_to_engine']:.2f}x the "
          f"engine in process on the same events ({cli['engine_events_per_s']:,.0f} ev/s; CPU time ratio "
          f"{cli['cpu_ratio_to_engine']:.2f}x); peak RSS {cli['peak_rss_mb']:.1f} MB vs {cli['small_peak_rss_mb']:.1f} MB "
          f"on 1,000 events (+{cli['extra_peak_mb']:.1f} MB)")
    hold = f["hold"]
    print(f"process() on {hold['events']:,} inputs: {hold['process']:,.0f} ev/s; after gc.freeze() of the inputs "
          f"{hold['process_frozen']:,.0f} ev/s; collector off {hold['process_gc_off']:,.0f} ev/s; "
          f"streaming process_one {hold['streaming']:,.0f} ev/s")
    batch = f["batch"]
    print(f"transformer run --batch (segment): {batch['events']:,} events at {batch['events_per_s']:,.0f} ev/s, "
          f"{batch['ratio']:.2f}x process() + batch() in process on the same events ({batch['engine_events_per_s']:,.0f} "
          f"ev/s; CPU time ratio {batch['cpu_ratio']:.2f}x)")
    for jobs in f["jobs"]:
        single, parallel = jobs["single"], jobs["parallel"]
        print(f"transformer run --jobs {jobs['jobs']} on {jobs['events']:,} events: {parallel['events_per_s']:,.0f} ev/s vs "
              f"{single['events_per_s']:,.0f} ev/s with --jobs 1 = {jobs['speedup']:.2f}x (at best {jobs['ideal_speedup']:.2f}x "
              f"after a {jobs['start_seconds']:.2f} s start); CPU time {jobs['cpu_ratio']:.2f}x; the main process "
              f"{jobs['parallel']['main_cpu_seconds']:.2f} s of CPU time, {jobs['main_cpu_after_start']:.2f} s after its "
              f"start; peak RSS per worker {parallel['worker_peak_rss_mb']:.1f} MB "
              f"(main {parallel['peak_rss_mb']:.1f} MB) vs {single['peak_rss_mb']:.1f} MB single ({jobs['worker_extra_mb']:+.1f} MB)")


if __name__ == "__main__":
    sys.exit(main())
