"""transformer run --jobs N: the same output as one process, in order, one result per input line."""
from __future__ import annotations

import json
import os
import sys
import threading
import time
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from transformer import cli
from transformer.cli.records import Lines
from transformer.engines import parallel

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}


def _run(args: list[str], capsys: Any) -> tuple[int, str, str]:
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture(autouse=True)
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(parallel, "CHUNK", 3)  # many chunks in flight, out of step with the workers


def _mixed_events(tmp_path: Path) -> Path:
    lines = []
    for i in range(40):
        lines.append(json.dumps(dict(TRACK, userId=f"user-{i}", properties={"n": i})))
        if i % 7 == 3:
            lines.append("{not json")
        if i % 9 == 4:
            lines.append(json.dumps({"type": "alias"}))
        if i % 11 == 5:
            lines.append("")
    path = tmp_path / "events.ndjson"
    path.write_text("\n".join(lines) + "\n")
    return path


@pytest.mark.parametrize("jobs", ["2", "3", "auto", "0"])
def test_jobs_give_the_single_process_output(tmp_path: Path, capsys: Any, jobs: str) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("apiKey: k\n")
    events = _mixed_events(tmp_path)
    args = ["run", "-d", "kustomer", "-s", str(settings), str(events)]
    single = _run(args, capsys)
    many = _run([*args, "--jobs", jobs], capsys)
    # The same output and summary; stderr may also say that --jobs was capped at the CPUs.
    assert many[:2] == single[:2] and many[2].splitlines()[-1] == single[2].splitlines()[-1]
    code, out, err = many
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert len(results) == len([line for line in events.read_text().splitlines() if line.strip()])
    assert [r["metadata"]["line"] for r in results] == sorted(r["metadata"]["line"] for r in results)
    assert results[4]["statusCode"] == 400 and "not valid JSON" in results[4]["error"]  # in its place
    assert [r["output"]["body"]["JSON"]["identity"]["externalId"] for r in results if r["statusCode"] == 200] == [
        f"user-{i}" for i in range(40)]


def test_jobs_with_a_json_array_and_batching(tmp_path: Path, capsys: Any) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("writeKey: wk\n")
    events = [dict(TRACK, userId=f"user-{i}") if i % 5 else {"type": "nope"} for i in range(30)]
    path = tmp_path / "events.json"
    path.write_text(json.dumps(events))
    args = ["run", "-d", "segment", "-s", str(settings), "--batch", str(path)]
    single = _run(args, capsys)
    assert _run([*args, "--jobs", "2"], capsys) == single
    assert "lines written" in single[2]


@pytest.mark.parametrize("value", ["-1", "many", "1.5"])
def test_bad_jobs_value_is_a_usage_error(tmp_path: Path, capsys: Any, value: str) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("apiKey: k\n")
    code, out, err = _run(["run", "-d", "kustomer", "-s", str(settings), "--jobs", value, str(_mixed_events(tmp_path))], capsys)
    assert code == 2 and out == ""
    assert "--jobs" in err


def _square_all(offset: int, chunk: list[int]) -> list[int]:
    return [offset + n * n for n in chunk]


def test_ordered_map_keeps_input_order() -> None:
    results = parallel.ordered_map(partial(_square_all, 1), (list(range(n, n + 4)) for n in range(0, 100, 4)), jobs=2)
    assert [n for part in results for n in part] == [1 + n * n for n in range(100)]


@pytest.mark.parametrize("jobs", ["1", "2"])
def test_integers_past_64_bits_keep_their_digits(tmp_path: Path, capsys: Any, jobs: str) -> None:
    settings = tmp_path / "settings.yaml"
    settings.write_text("apiKey: k\n")
    events = tmp_path / "events.ndjson"
    events.write_text('{"type": "track", "userId": "u", "event": "E", "properties": {"big": 123456789012345678901234, '
                      '"digits": "١٢٣٤٥٦٧٨٩٠١٢٣٤٥٦٧٨٩٠١٢٣", "n": 12345678901234567}}\n')
    code, out, _ = _run(["run", "-d", "kustomer", "-s", str(settings), "--jobs", jobs, str(events)], capsys)
    assert code == 0
    assert '"big":123456789012345678901234' in out and '"n":12345678901234567' in out


@pytest.mark.skipif(sys.platform != "linux", reason="pipe sizes can be set on Linux")
def test_tasks_and_results_travel_through_pipes_that_hold_several_of_them() -> None:
    """A 64 KiB pipe took a task of NDJSON lines (up to 256 KiB) in four or more hand-overs, each
    waiting for the other process to be scheduled: the pool asks for PIPE_BYTES."""
    import fcntl

    if int(Path("/proc/sys/fs/pipe-max-size").read_text()) < parallel.PIPE_BYTES:
        pytest.skip("this machine allows smaller pipes")
    pool = parallel._Pool(str, 1)
    try:
        for queue in (pool._tasks, pool._results):
            assert fcntl.fcntl(queue._writer.fileno(), fcntl.F_GETPIPE_SZ) >= parallel.PIPE_BYTES
        assert list(parallel.ordered_map(len, [b"x" * (300 << 10), b"y"], 2)) == [300 << 10, 1]
    finally:
        pool.close(wait=True)


def _echo_with_bytes(task: tuple[int, bytes]) -> tuple[int, tuple[bytes, list[int]], bytes]:
    size, data = task
    return size, (data * 2, [size]), bytes(size)


def test_bytes_travel_beside_the_pickle_and_arrive_whole() -> None:
    """Large bytes (in tuples, at any depth, and a Lines block's) go out of band; small ones in the pickle."""
    sizes = [0, 1, parallel.OUT_OF_BAND - 1, parallel.OUT_OF_BAND, 3 << 20]
    tasks = [(size, bytes(range(256)) * (size // 256) + b"\xff" * (size % 256)) for size in sizes]
    assert list(parallel.ordered_map(_echo_with_bytes, tasks, 2)) == [_echo_with_bytes(task) for task in tasks]
    block = Lines("events.ndjson", 7, b'{"type":"track"}\n' * 5000)
    [(label, first, data)] = parallel.ordered_map(_fields_of, [block], 2)
    assert (label, first, data) == ("events.ndjson", 7, block.data)


def _fields_of(block: Lines) -> tuple[str, int, bytes]:
    return block.label, block.first, block.data


def test_a_message_read_in_pieces_is_whole_and_a_closed_pipe_mid_message_is_an_error() -> None:
    read, write = os.pipe()
    try:
        writer = threading.Thread(target=lambda: [os.write(write, b"ab") or time.sleep(0.01) for _ in range(3)])
        writer.start()
        assert parallel._read_exactly(read, 6) == b"ababab"
        writer.join()
        os.write(write, b"abc")
        os.close(write)
        with pytest.raises(EOFError):
            parallel._read_exactly(read, 4)
    finally:
        os.close(read)
