"""`transformer run` under hostile input and signals (issue 20's `run` cases): a broken array
element hides no other, --jobs gives results as they come, starts only the workers it needs and
leaves none behind, and pipes are read like files. Every subprocess here is bounded in time."""
from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from transformer.engines import parallel

ROOT = Path(__file__).resolve().parent.parent
TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}
LINE = (json.dumps(TRACK) + "\n").encode()


@pytest.fixture()
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text("apiKey: kustomer-api-key-123\n")
    return path


def _run(settings: Path, *args: str, stdin: bytes = b"", **kwargs: Any) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run([sys.executable, "-m", "transformer", "run", "-d", "kustomer", "-s", str(settings), *args],
                          input=stdin, capture_output=True, timeout=60, cwd=ROOT, **kwargs)


def _start(settings: Path, *args: str) -> subprocess.Popen[bytes]:
    return subprocess.Popen([sys.executable, "-m", "transformer", "run", "-d", "kustomer", "-s", str(settings), *args],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, cwd=ROOT)


def _children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (from /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


def _alive(pids: set[int]) -> set[int]:
    alive = set()
    for pid in pids:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except OSError:
            continue
        if state != "Z":
            alive.add(pid)
    return alive


def _wait_gone(pids: set[int], seconds: float) -> set[int]:
    deadline = time.monotonic() + seconds
    while (left := _alive(pids)) and time.monotonic() < deadline:
        time.sleep(0.05)
    return left


@pytest.mark.parametrize("pretty", [True, False])
def test_an_array_element_missing_its_brace_hides_no_element_after_it(tmp_path: Path, settings_file: Path,
                                                                     pretty: bool) -> None:
    events = [dict(TRACK, userId=f"u{i}", properties={"n": i}) for i in range(4)]
    texts = [json.dumps(e, indent=2 if pretty else None) for e in events]
    texts[1] = texts[1][:-1]  # element 1 lacks its closing '}'
    path = tmp_path / "events.json"
    path.write_text("[\n" + ",\n".join(texts) + "\n]\n" if pretty else "[" + ",".join(texts) + "]\n")
    done = _run(settings_file, str(path))
    results = [json.loads(line) for line in done.stdout.splitlines()]
    assert [r["metadata"]["index"] for r in results] == [0, 1, 2, 3]
    assert [r["statusCode"] for r in results] == [200, 400, 200, 200]
    assert "element 1 of the JSON array" in results[1]["error"]
    assert [r["output"]["body"]["JSON"]["identity"]["externalId"] for r in results if r["statusCode"] == 200] == \
        ["u0", "u2", "u3"]


def test_an_array_of_objects_inside_a_broken_element_stays_in_it(tmp_path: Path, settings_file: Path) -> None:
    """Only a ',' directly in an object followed by '{' ends a broken element: a list of objects does not."""
    broken = '{"type": "track", "userId": "u1", "event": "E", "properties": {"items": [{"a": 1}, {"a": 2}]}'
    path = tmp_path / "events.json"
    path.write_text(f"[{broken}, {json.dumps(TRACK)}]\n")
    results = [json.loads(line) for line in _run(settings_file, str(path)).stdout.splitlines()]
    assert [r["statusCode"] for r in results] == [400, 200]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_results_come_while_a_slow_producer_still_writes(settings_file: Path, jobs: str) -> None:
    process = _start(settings_file, "--jobs", jobs)
    assert process.stdin is not None and process.stdout is not None
    try:
        for n in range(2):
            process.stdin.write(LINE)
            process.stdin.flush()
            got: list[bytes] = []
            reader = threading.Thread(target=lambda: got.append(process.stdout.readline()))  # type: ignore[union-attr]
            reader.start()
            reader.join(timeout=30)
            assert got and json.loads(got[0])["metadata"]["line"] == n + 1, "the result waited for more input"
        process.stdin.close()
        assert process.wait(timeout=30) == 0
    finally:
        process.kill()
        process.wait()


def test_workers_start_as_work_arrives_and_never_more_than_the_cpus() -> None:
    [started] = parallel.ordered_map(_workers_started, [1], 64)
    assert started == 1, "one task starts one worker, whatever --jobs says"
    many = list(parallel.ordered_map(_pid_slowly, range(40), 100_000))
    assert 1 <= len(set(many)) <= parallel.usable_cpus()


def _workers_started(_: Any) -> int:
    """Seen from a worker: how many processes the main process has started."""
    return len(_children(os.getppid()))


def _pid_slowly(_: Any) -> int:
    time.sleep(0.01)
    return os.getpid()


def test_jobs_past_the_cpus_are_capped_and_said_once(settings_file: Path) -> None:
    done = _run(settings_file, "--jobs", "100000", stdin=LINE)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 1
    assert done.stderr.decode().count("at most") == 1
    assert f"at most {parallel.usable_cpus()} worker processes" in done.stderr.decode()


def test_results_keep_their_order_over_many_blocks(tmp_path: Path, settings_file: Path) -> None:
    path = tmp_path / "many.ndjson"
    path.write_bytes(b"".join((json.dumps(dict(TRACK, userId=f"u{i}")) + "\n").encode() for i in range(3000)))
    single, double = _run(settings_file, str(path)), _run(settings_file, "--jobs", "2", str(path))
    assert single.returncode == double.returncode == 0
    assert single.stdout == double.stdout and len(single.stdout.splitlines()) == 3000


@pytest.mark.parametrize("how", [signal.SIGINT, signal.SIGTERM, signal.SIGKILL])
def test_no_worker_outlives_the_run(settings_file: Path, how: signal.Signals) -> None:
    process = _start(settings_file, "--jobs", "2")
    assert process.stdin is not None and process.stdout is not None
    try:
        process.stdin.write(LINE * 3)
        process.stdin.flush()
        assert process.stdout.readline(), "no first result"
        workers = _children(process.pid)
        assert workers, "a worker runs"
        process.send_signal(how)
        process.wait(timeout=30)
        assert not _wait_gone(workers, 10), f"workers left behind after {how.name}"
        if how == signal.SIGINT:
            assert process.returncode == 130
            assert b"Traceback" not in process.stderr.read()  # type: ignore[union-attr]
    finally:
        process.kill()
        process.wait()


def test_a_pipe_and_process_substitution_are_read_like_files(tmp_path: Path, settings_file: Path) -> None:
    read, write = os.pipe()
    os.write(write, LINE * 2)
    os.close(write)
    try:
        done = _run(settings_file, f"/dev/fd/{read}", pass_fds=(read,))
    finally:
        os.close(read)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 2
    fifo = tmp_path / "events.fifo"
    os.mkfifo(fifo)
    writer = threading.Thread(target=lambda: fifo.write_bytes(LINE * 3))
    writer.start()
    done = _run(settings_file, "--jobs", "2", str(fifo))
    writer.join(timeout=30)
    assert done.returncode == 0 and len(done.stdout.splitlines()) == 3


def test_a_folder_or_a_missing_file_is_a_usage_error(tmp_path: Path, settings_file: Path) -> None:
    for name, says in ((str(tmp_path), "is a folder"), (str(tmp_path / "none.ndjson"), "no such file")):
        done = _run(settings_file, name)
        assert done.returncode == 2 and done.stdout == b"" and says in done.stderr.decode()
