"""The transformer command: run, check, test; exit codes, streaming input, stdout/stderr split."""
from __future__ import annotations

import io
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import cli
from transformer.cli import common, inputs, jsonarray, progress, records
from transformer.language.folders import known_names

ROOT = Path(__file__).resolve().parent.parent
TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}


def run_cli(args: list[str], capsys: pytest.CaptureFixture[str], stdin: str | None = None,
            monkeypatch: pytest.MonkeyPatch | None = None) -> tuple[int, str, str]:
    if stdin is not None:
        assert monkeypatch is not None
        monkeypatch.setattr(sys, "stdin", io.StringIO(stdin))
    code = cli.main(args)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def settings_file(tmp_path: Path) -> Path:
    path = tmp_path / "settings.yaml"
    path.write_text("apiKey: cli-secret-key-77\n")
    return path


def test_run_ndjson_one_result_per_line_in_order(tmp_path: Path, settings_file: Path, capsys: Any) -> None:
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join([json.dumps(TRACK), "", "{not json", json.dumps({"type": "alias"}), json.dumps(TRACK)]) + "\n")
    code, out, err = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(events)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["statusCode"] for r in results] == [200, 400, 400, 200]
    assert [r["metadata"]["line"] for r in results] == [1, 3, 4, 5]
    assert results[1]["error"].startswith(f"{events}:3: not valid JSON")
    assert "kustomer: 4 events, 2 transformed, 2 errors (400: 2)" in err
    assert "cli-secret-key-77" not in err


def test_run_ndjson_lines_cut_across_reads(tmp_path: Path, settings_file: Path, capsys: Any,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """NDJSON is read a block at a time: lines cut between reads, lines longer than a read, a blank
    line and a last line without a newline each still give one result (or none, when blank), in
    place, exactly as when the whole file comes in one read."""
    lines = [json.dumps(dict(TRACK, userId=f"u{i}", properties={"pad": "x" * (i * 37 % 300)})) for i in range(40)]
    lines[7], lines[13] = "", "{not json"
    events = tmp_path / "events.ndjson"
    events.write_text("\n".join(lines))
    args = ["run", "-d", "kustomer", "-s", str(settings_file), str(events)]
    _, whole, _ = run_cli(args, capsys)
    monkeypatch.setattr(records, "READ", 50)
    code, cut, _ = run_cli(args, capsys)
    assert (code, cut) == (1, whole)
    results = [json.loads(line) for line in cut.splitlines()]
    assert [r["metadata"]["line"] for r in results] == [n for n in range(1, 41) if n != 8]
    assert [r["metadata"]["line"] for r in results if r["statusCode"] != 200] == [14]


def test_run_json_array_streams_across_chunk_boundaries(tmp_path: Path, settings_file: Path, capsys: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(jsonarray, "CHUNK", 7)  # every value straddles several reads
    events = [dict(TRACK, userId=f"user-{i}", properties={"n": i * 1000, "s": "x" * i}) for i in range(30)]
    path = tmp_path / "events.json"
    path.write_text(" [\n" + ",\n ".join(json.dumps(e) for e in events) + "\n]\n")
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(path)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["output"]["body"]["JSON"]["identity"]["externalId"] for r in results] == [f"user-{i}" for i in range(30)]
    assert results[29]["output"]["body"]["JSON"]["event"]["meta"] == {"n": 29000, "s": "x" * 29}
    assert [r["metadata"]["index"] for r in results] == list(range(30))


def test_run_broken_json_array_element_is_an_error_in_its_place(tmp_path: Path, settings_file: Path, capsys: Any) -> None:
    path = tmp_path / "events.json"
    path.write_text(f"[{json.dumps(TRACK)}, {{\"type\": ]")
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(path)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["statusCode"] for r in results] == [200, 400]
    assert "element 1 of the JSON array (line 1): not valid JSON" in results[1]["error"]


def test_run_reads_stdin_and_uses_canned_lookups(tmp_path: Path, settings_file: Path, capsys: Any,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    lookups = tmp_path / "lookups.json"
    lookups.write_text(json.dumps({"https://api.kustomerapp.com/v1/customers/externalId=u1":
                                   {"status": 200, "body": {"data": {"id": "k-1"}}}}))
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), "--lookups", str(lookups)], capsys,
                           stdin=json.dumps({"type": "identify", "userId": "u1"}) + "\n", monkeypatch=monkeypatch)
    [result] = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert result["output"]["method"] == "PUT"
    assert result["output"]["endpoint"] == "https://api.kustomerapp.com/v1/customers/k-1?replace=false"


def test_run_identify_without_lookups_is_an_error_result(settings_file: Path, capsys: Any,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file)], capsys,
                           stdin=json.dumps({"type": "identify", "userId": "u1"}) + "\n", monkeypatch=monkeypatch)
    assert code == 1
    assert "no lookup function was given" in json.loads(out)["error"]


def test_run_batch(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    settings = tmp_path / "segment.yaml"
    settings.write_text("writeKey: wk-cli-0001\nregion: eu\n")
    lines = "\n".join(json.dumps(dict(TRACK, userId=f"u{i}")) for i in range(5)) + "\n"
    code, out, err = run_cli(["run", "-d", "segment", "-s", str(settings), "--batch"], capsys, stdin=lines,
                             monkeypatch=monkeypatch)
    [result] = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert result["output"]["endpoint"] == "https://events.eu1.segmentapis.com/v1/batch"
    assert len(result["output"]["body"]["JSON"]["batch"]) == 5
    assert "1 lines written" in err


@pytest.mark.parametrize("args, message", [
    (["run", "-d", "nowhere", "-s", "{settings}"], "no destination 'nowhere' (known: "),
    (["run", "-d", "kustomr", "-s", "{settings}"], "no destination 'kustomr' (did you mean `kustomer`?)"),
    (["run", "-d", "kustomer", "-s", "{missing}"], "cannot read settings"),
    (["run", "-d", "kustomer", "-s", "{bad_settings}"], "configuration error: setting apiKey is required"),
    (["run", "-d", "kustomer", "-s", "{settings}", "--batch"], "destination kustomer declares no batching"),
    (["run", "-d", "kustomer", "-s", "{settings}", "{missing}"], "no such file"),
    (["run", "-d", "kustomer", "-s", "{settings}", "--lookups", "{bad_lookups}"],
     "the answer for https://x.example/a is not {status, body}"),
])
def test_run_usage_problems_exit_2(tmp_path: Path, settings_file: Path, capsys: Any, args: list[str], message: str) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text("genericPage: true\n")
    bad_lookups = tmp_path / "lookups.json"
    bad_lookups.write_text('{"https://x.example/a": [200, {}]}')
    paths = {"settings": str(settings_file), "missing": str(tmp_path / "missing.yaml"), "bad_settings": str(bad),
             "bad_lookups": str(bad_lookups)}
    code, out, err = run_cli([a.format(**paths) for a in args], capsys)
    assert code == 2
    assert out == ""
    assert message in err


# A small destination of the test's own: the tests below never depend on the built-in files' text.
DEMO_DESTINATION = """\
name: demo
settings:
  type: object
  required: [key]
  properties:
    key: {type: string}
    loud: {type: boolean, default: false}
secrets: [key]
request:
  method: POST
  endpoint: {const: "https://demo.example/events"}
events:
  track: track.yaml
"""
DEMO_TRACK = """\
body:
  object:
    user: {path: userId}
    name:
      path: event
      then:
        - {coerce: trim, when: {setting: loud}}
"""
DEMO_FIXTURE = {"name": "track: a named event", "destination": "demo", "settings": {"key": "demo-key-1"},
                "event": {"type": "track", "userId": "u1", "event": "Signed Up"}}


def make_checkout(root: Path) -> Path:
    """A folder laid out like a checkout: mappings/demo and fixtures/demo, the fixture's expected filled in."""
    folder = root / "mappings" / "demo"
    folder.mkdir(parents=True)
    (folder / "destination.yaml").write_text(DEMO_DESTINATION)
    (folder / "track.yaml").write_text(DEMO_TRACK)
    (root / "fixtures" / "demo").mkdir(parents=True)
    expected = {"statusCode": 200, "output": transformer.load(folder).transform(DEMO_FIXTURE["event"], DEMO_FIXTURE["settings"])}
    (root / "fixtures" / "demo" / "track.json").write_text(json.dumps({**DEMO_FIXTURE, "expected": expected}, indent=2))
    return folder


def test_check_reports_a_mistake_at_its_line(tmp_path: Path, capsys: Any) -> None:
    folder = make_checkout(tmp_path)
    broken = DEMO_TRACK.replace("{setting: loud}", "{setting: lowd}")
    (folder / "track.yaml").write_text(broken)
    line = broken.splitlines().index("        - {coerce: trim, when: {setting: lowd}}") + 1
    code, out, _ = run_cli(["check", str(folder)], capsys)
    assert code == 1
    assert out.startswith(f"{folder}/track.yaml:{line}: body.object.name.then[0].when.setting: unknown setting 'lowd'")


def test_check_and_test_use_the_checkout_they_run_in(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = make_checkout(tmp_path)
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["check"], capsys)
    assert (code, out) == (0, f"ok: {folder} (demo: track)\n")
    code, out, _ = run_cli(["test"], capsys)
    assert code == 0
    assert out.splitlines() == [f"transformer: demo from {folder}", "1 passed, 0 failed"]
    # The edit shows at once, in every command.
    (folder / "track.yaml").write_text(DEMO_TRACK.replace("path: event", "path: userId"))
    code, out, _ = run_cli(["test"], capsys)
    assert code == 1
    assert [line.replace(" ", "") for line in out.splitlines() if line[:1] in "+-" and '"name"' in line] == \
           ['-"name":"SignedUp"', '+"name":"u1"']
    (tmp_path / "settings.yaml").write_text("key: demo-key-1\n")
    code, out, err = run_cli(["run", "-d", "demo", "-s", "settings.yaml"], capsys, stdin=json.dumps(DEMO_FIXTURE["event"]),
                             monkeypatch=monkeypatch)
    assert json.loads(out)["output"]["body"]["JSON"] == {"user": "u1", "name": "u1"}
    assert f"transformer: demo from {folder}" in err


def test_outside_a_checkout_check_and_test_use_the_installed_mappings(tmp_path: Path, capsys: Any,
                                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no mappings/ here: what a user of the installed package sees
    code, out, _ = run_cli(["check"], capsys)
    assert code == 0
    assert f"ok: {transformer.load('kustomer').folder} (kustomer: identify, track, page, screen)" in out
    code, out, _ = run_cli(["test", str(ROOT / "fixtures" / "segment")], capsys)
    assert code == 0
    assert out.startswith(f"transformer: segment from {transformer.load('segment').folder}\n")
    assert out.strip().endswith("passed, 0 failed")
    code, _, err = run_cli(["test"], capsys)
    assert (code, err) == (2, "transformer: fixtures: no such file or folder\n")


def test_test_command_passes_on_the_bundled_fixtures(capsys: Any) -> None:
    code, out, _ = run_cli(["test", str(ROOT / "fixtures"), "--destination", "kustomer"], capsys)
    assert code == 0
    assert out.strip().endswith("passed, 0 failed")


def test_test_command_shows_a_diff_against_another_mapping_folder(tmp_path: Path, capsys: Any) -> None:
    make_checkout(tmp_path)
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "destination.yaml").write_text(DEMO_DESTINATION)
    (edited / "track.yaml").write_text(DEMO_TRACK.replace("name:", "title:"))
    code, out, _ = run_cli(["test", str(tmp_path / "fixtures"), "--mappings", str(edited)], capsys)
    assert code == 1
    assert out.startswith(f"transformer: demo from {edited}\nFAIL ")
    assert "track: a named event" in out
    changed = [line.replace(" ", "") for line in out.splitlines() if line[:1] in "+-" and "Signed Up" in line]
    assert changed == ['-"name":"SignedUp"', '+"title":"SignedUp"']
    assert out.strip().endswith("0 passed, 1 failed")


def test_new_scaffolds_a_destination_that_passes_check_and_test(tmp_path: Path, capsys: Any,
                                                                monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    code, out, _ = run_cli(["new", "acme"], capsys)
    assert code == 0
    assert out.splitlines() == ["created mappings/acme/destination.yaml", "created mappings/acme/track.yaml",
                                "created fixtures/acme/track.json",
                                "next: transformer check mappings/acme && transformer test fixtures/acme"]
    assert run_cli(["check", "mappings/acme"], capsys)[:2] == (0, "ok: mappings/acme (acme: track)\n")
    code, out, _ = run_cli(["test", "fixtures/acme"], capsys)
    assert (code, out.splitlines()[-1]) == (0, "1 passed, 0 failed")
    fixture = json.loads((tmp_path / "fixtures" / "acme" / "track.json").read_text())
    assert fixture["expected"]["output"]["body"]["JSON"]["event"] == "Signed Up"
    # Its files name an editor schema that exists, and the schema accepts them.
    for name in ("destination.yaml", "track.yaml"):
        first = (tmp_path / "mappings" / "acme" / name).read_text().splitlines()[0]
        # outside a checkout: the installed copy, relative to the new folder (as the README says)
        assert first.startswith("# yaml-language-server: $schema=../")
        schema = tmp_path / "mappings" / "acme" / first.split("$schema=", 1)[1]
        assert schema.is_file() and schema.resolve().parent == transformer.cli.scaffold.SCHEMAS.resolve()
    code, _, err = run_cli(["new", "acme"], capsys)
    assert (code, err) == (2, f"transformer: {Path('mappings/acme')} already exists\n")
    assert run_cli(["new", "9lives"], capsys)[0] == 2


def test_new_in_a_checkout_links_the_checkout_schemas(tmp_path: Path, capsys: Any) -> None:
    (tmp_path / "schema").mkdir()
    for name in ("destination", "event"):
        shutil.copy(ROOT / "schema" / f"{name}.schema.json", tmp_path / "schema")
    code, out, _ = run_cli(["new", "acme", "--root", str(tmp_path)], capsys)
    assert code == 0
    assert out.splitlines()[-1] == (f"next: transformer check {tmp_path}/mappings/acme && transformer test "
                                    f"{tmp_path}/fixtures/acme --mappings {tmp_path}/mappings/acme")
    head = (tmp_path / "mappings" / "acme" / "track.yaml").read_text().splitlines()[0]
    assert head == "# yaml-language-server: $schema=../../schema/event.schema.json"
    code, out, _ = run_cli(["test", str(tmp_path / "fixtures" / "acme"), "--mappings", str(tmp_path / "mappings" / "acme")], capsys)
    assert (code, out.splitlines()[-1]) == (0, "1 passed, 0 failed")


def test_version(capsys: Any) -> None:
    with pytest.raises(SystemExit) as done:
        cli.main(["--version"])
    assert done.value.code == 0
    assert capsys.readouterr().out == f"transformer {transformer.__version__}\n"


def test_python_dash_m_and_help_on_every_command() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for command in ([], ["run"], ["check"], ["test"], ["explain"], ["new"]):
        done = subprocess.run([sys.executable, "-m", "transformer", *command, "--help"], capture_output=True,
                              text=True, env=env, check=False)
        assert done.returncode == 0, done.stderr
        assert "usage: transformer" in done.stdout


def test_run_reads_and_writes_what_only_the_standard_library_parses(settings_file: Path, capsys: Any,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    lines = ('{"type": "track", "userId": "u", "event": "e", "properties": {"n": NaN}}\n'
             '{"type": "track", "userId": "u", "event": "e", "properties": {"n": 123456789012345678901234567890}}\n')
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file)], capsys, stdin=lines, monkeypatch=monkeypatch)
    first, second = (json.loads(line) for line in out.splitlines())
    assert code == 1
    assert first["error"] == "kustomer track: properties.n is not a finite number (NaN and infinity are not JSON)"
    assert second["output"]["body"]["JSON"]["event"]["meta"] == {"n": 123456789012345678901234567890}


def test_lines_only_the_standard_library_parses_read_alike_beside_a_long_integer(
        settings_file: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """A block of lines holding an integer past 64 bits is parsed through the slower path, line by
    line; a block without one goes to orjson first: a line orjson refuses but the standard library
    reads (NaN, a lone surrogate escape) gets the same result either way."""
    nan = '{"type": "track", "userId": "u", "event": "e", "properties": {"n": NaN}}\n'
    surrogate = '{"type": "track", "userId": "u", "event": "e", "properties": {"s": "\\ud800"}}\n'
    long_integer = '{"type": "track", "userId": "u", "event": "e", "properties": {"n": 123456789012345678901234567890}}\n'
    args = ["run", "-d", "kustomer", "-s", str(settings_file)]
    _, alone, _ = run_cli(args, capsys, stdin=nan + surrogate, monkeypatch=monkeypatch)
    _, beside, _ = run_cli(args, capsys, stdin=nan + surrogate + long_integer, monkeypatch=monkeypatch)
    assert beside.splitlines()[:2] == alone.splitlines()
    first, second = (json.loads(line) for line in alone.splitlines())
    assert first["error"] == "kustomer track: properties.n is not a finite number (NaN and infinity are not JSON)"
    assert second["statusCode"] == 400 and "properties.s" in second["error"]


def test_run_shows_progress_on_a_terminal_only(settings_file: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(progress.time, "monotonic", lambda: float(next(clock)))
    lines = (json.dumps(TRACK) + "\n") * 600
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["run", "-d", "kustomer", "-s", str(settings_file)]) == 0
    err = capsys.readouterr().err
    assert "\r256 events (" in err and "\r512 events (" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli.main(["run", "-d", "kustomer", "-s", str(settings_file), "--no-progress"]) == 0
    assert "events (" not in capsys.readouterr().err


# -- bad input never loses an event (issue 9) -------------------------------------------------

def run_bytes(tmp_path: Path, settings_file: Path, data: bytes, *extra: str, name: str = "events") -> tuple[int, list[dict[str, Any]], str]:
    """The CLI in a fresh process on a file holding ``data``: exit code, result lines, stderr."""
    path = tmp_path / name
    path.write_bytes(data)
    done = subprocess.run([sys.executable, "-m", "transformer", "run", "-d", "kustomer", "-s", str(settings_file), *extra, str(path)],
                          capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False, timeout=120)
    assert "Traceback" not in done.stderr.decode("utf-8", "replace"), done.stderr
    return done.returncode, [json.loads(line.decode("utf-8")) for line in done.stdout.splitlines()], done.stderr.decode()


GOOD = json.dumps(TRACK).encode()


def test_every_line_gets_its_result_whatever_it_holds(tmp_path: Path, settings_file: Path) -> None:
    """Items 1, 2, 3, 5, 6: a lone surrogate escape, a Latin-1 byte, a line 1,200 levels deep, an
    integer below int64, a line of only a non-breaking space or \\x1c: each is one result, in order."""
    lines = [GOOD, b'{"type":"track","userId":"\\ud83d","event":"e"}', b'{"type":"track","userId":"Caf\xe9","event":"e"}',
             b"[" * 1200 + b"]" * 1200, b'{"type":"track","userId":"u","event":"e","properties":{"n":-9223372036854775809}}',
             "\u00a0".encode(), b"\x1c", GOOD]
    code, results, err = run_bytes(tmp_path, settings_file, b"\n".join(lines) + b"\n")
    assert code == 1
    assert [r["metadata"]["line"] for r in results] == [1, 2, 3, 4, 5, 6, 7, 8]
    assert [r["statusCode"] for r in results] == [200, 400, 400, 400, 200, 400, 400, 200]
    assert results[1]["error"] == "kustomer: the event's userId is not valid Unicode (it holds a lone surrogate, e.g. half of an emoji)"
    assert results[2]["error"].endswith("events:3: not valid UTF-8 (byte 30 is 0xe9)")
    assert results[3]["error"].endswith("events:4: nested too deeply to read")
    assert results[4]["output"]["body"]["JSON"]["event"]["meta"] == {"n": -9223372036854775809}
    assert "not valid JSON" in results[5]["error"] and "not valid JSON" in results[6]["error"]
    assert "kustomer: 8 events, 3 transformed, 5 errors (400: 5)" in err


def test_a_json_array_keeps_going_after_a_bad_element(tmp_path: Path, settings_file: Path) -> None:
    """Item 4: a malformed element is an error in its place and the elements after it are read;
    a BOM before '[' is fine; so are bytes that are not UTF-8 and deep nesting inside one element."""
    data = (b"\xef\xbb\xbf[\n" + GOOD + b",\n" + b'{"type": "track", "userId": }' + b",\n" + b'{"userId": "Caf\xe9"}' + b",\n"
            + b"[" * 1200 + b"]" * 1200 + b",\n" + GOOD + b' {"junk": 1}, ' + GOOD + b"\n]\n")
    code, results, _ = run_bytes(tmp_path, settings_file, data, name="events.json")
    assert code == 1
    assert [r["metadata"]["index"] for r in results] == [0, 1, 2, 3, 4, 5, 6]
    assert [r["statusCode"] for r in results] == [200, 400, 400, 400, 200, 400, 200]
    assert "element 1 of the JSON array (line 3): not valid JSON" in results[1]["error"]
    assert "element 2 of the JSON array (line 4): not valid UTF-8 (byte 16 is 0xe9)" in results[2]["error"]
    assert "element 3 of the JSON array (line 5): nested too deeply to read" in results[3]["error"]
    assert "element 5 of the JSON array (line 6): expected ',' or ']' before it" in results[5]["error"]


def test_text_after_a_json_array_is_an_error_per_line(tmp_path: Path, settings_file: Path) -> None:
    """Item 4: '[]' then two events once gave '0 events', exit 0."""
    code, results, err = run_bytes(tmp_path, settings_file, b"[]\n" + GOOD + b"\n\n" + GOOD + b"\n", name="events.json")
    assert code == 1
    assert [(r["metadata"]["line"], r["statusCode"]) for r in results] == [(2, 400), (4, 400)]
    assert results[0]["error"].endswith("events.json:2: text after the end of the JSON array (a file holds NDJSON or one JSON array)")
    assert "kustomer: 2 events, 0 transformed, 2 errors" in err


def test_a_large_array_element_is_read_in_linear_time(tmp_path: Path, settings_file: Path, capsys: Any,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 4: each read once decoded again (and copied) the whole element so far: quadratic.
    Counted here in decode attempts and reads, not seconds: a 2 MB pretty-printed element over
    64-byte chunks."""
    monkeypatch.setattr(jsonarray, "CHUNK", 64)
    attempts = reads = 0
    raw_decode = json.JSONDecoder.raw_decode

    def counting(self: json.JSONDecoder, s: str, idx: int = 0) -> Any:
        nonlocal attempts
        attempts += 1
        return raw_decode(self, s, idx)

    class CountingReader(io.BufferedReader):
        def read(self, size: int | None = -1) -> bytes:
            nonlocal reads
            reads += 1
            return super().read(size)

    monkeypatch.setattr(json.JSONDecoder, "raw_decode", counting)
    monkeypatch.setattr(inputs, "open", lambda name, mode: CountingReader(io.FileIO(name)), raising=False)
    big = dict(TRACK, properties={f"k{i}": "v" * 20 for i in range(50_000)})
    path = tmp_path / "events.json"
    path.write_text("[\n" + json.dumps(big, indent=2) + ",\n" + json.dumps(TRACK) + "\n]\n")
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(path)], capsys)
    assert code == 0 and len(out.splitlines()) == 2
    assert attempts <= 4
    assert reads <= 30  # 2 MB / 64 B would be 30,000 reads of one chunk each


def test_batch_memory_stays_flat_behind_a_long_run_of_errors(tmp_path: Path) -> None:
    """Item 7: one good event then many errors used to hold every error until the end."""
    from transformer.runtime.batching import HELD_RESULTS as MAX_WAITING  # results that may wait behind an open batch
    settings = tmp_path / "segment.yaml"
    settings.write_text("writeKey: wk-cli-0001\n")
    seen_open: list[int] = []
    segment = transformer.load("segment")
    good = {"output": segment.transform(TRACK, {"writeKey": "wk-cli-0001"}), "statusCode": 200, "metadata": 0}

    def results() -> Any:
        yield good
        for index in range(1, 3 * MAX_WAITING):
            seen_open.append(index)
            yield {"error": "bad", "statusCode": 400, "metadata": index}
        yield dict(good, metadata=3 * MAX_WAITING)

    packed = segment.iter_batches(results())
    first = next(packed)
    assert first["metadata"] == [0]  # the batch closed early, where its first event stood
    assert len(seen_open) == MAX_WAITING + 1  # closed as soon as more than MAX_WAITING results wait behind it
    rest = list(packed)
    assert [r["metadata"] for r in rest] == [*range(1, 3 * MAX_WAITING), [3 * MAX_WAITING]]


def test_usage_problems_are_found_before_any_output(tmp_path: Path, settings_file: Path, capsys: Any,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    """Item 8: an unreadable file after a readable one, closed stdout, closed stdin: exit 2, no output."""
    good = tmp_path / "good.ndjson"
    good.write_bytes(GOOD + b"\n")
    locked = tmp_path / "locked.ndjson"
    locked.write_bytes(GOOD + b"\n")
    real_open = open

    def guarded_open(file: Any, *args: Any, **kwargs: Any) -> Any:  # root reads any file: refuse this one by hand
        if str(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(file))
        return real_open(file, *args, **kwargs)

    monkeypatch.setattr(common, "open", guarded_open, raising=False)
    code, out, err = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(good), str(locked)], capsys)
    assert (code, out) == (2, "")
    assert err.endswith(f"\ntransformer: {locked}: cannot read (Permission denied)\n")
    for stream, message in (("stdout", "standard output is closed"), ("stdin", "standard input is closed")):
        with monkeypatch.context() as patch:
            patch.setattr(sys, stream, None)
            code, out, err = run_cli(["run", "-d", "kustomer", "-s", str(settings_file)], capsys)
        assert (code, out) == (2, "") and message in err


@pytest.mark.parametrize("suffix, text", [
    (".json", '{"apiKey": ' + "[" * 5000 + "]" * 5000 + "}"),
    (".yaml", "apiKey: " + "[" * 50_000 + "]" * 50_000),
    (".yaml", "apiKey: k\nx:\n" + "- " * 150 + "x\n"),
    (".yaml", "a: &a0 [lol, lol, lol, lol, lol, lol, lol, lol, lol]\n"
              + "".join(f"b{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 9)}]\n" for i in range(1, 10)) + "apiKey: k-123456\n"),
])
def test_hostile_settings_files_are_usage_errors(tmp_path: Path, capsys: Any, suffix: str, text: str) -> None:
    """Items 8, 9, 10: deep nesting and alias bombs in a settings file are exit 2, quickly."""
    path = tmp_path / f"settings{suffix}"
    path.write_text(text)
    code, out, err = run_cli(["run", "-d", "kustomer", "-s", str(path), str(path)], capsys)
    assert (code, out) == (2, "")
    assert any(reason in err for reason in ("nested too deeply", "nested deeper than 100 levels", "exceeded maximum nesting depth",
                                            "aliases (*name) expand to more than 100,000 values")), err


def test_ctrl_c_ends_with_the_summary_so_far_and_exit_130(settings_file: Path) -> None:
    """Item 8: SIGINT used to print a traceback."""
    process = subprocess.Popen([sys.executable, "-m", "transformer", "run", "-d", "kustomer", "-s", str(settings_file)],
                               stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert process.stdin is not None and process.stdout is not None
    process.stdin.write((GOOD + b"\n") * 3)
    process.stdin.flush()
    assert json.loads(process.stdout.readline())["statusCode"] == 200  # running, and waiting for more input
    process.send_signal(signal.SIGINT)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 130
    assert re.fullmatch(r"transformer: kustomer from .*\nkustomer: [1-3] events, [1-3] transformed, 0 errors; interrupted\n",
                        err.decode())


def test_test_command_reports_malformed_fixtures(tmp_path: Path, capsys: Any) -> None:
    """Item 17: "inputs": 5, deep nesting, bad look-up answers, an unknown destination: each an ERROR line."""
    cases = {"inputs": {"name": "n", "destination": "kustomer", "settings": {}, "inputs": 5},
             "deep": {"name": "n", "destination": "kustomer", "settings": {}, "event": json.loads("[" * 900 + "]" * 900)},
             "lookups": {"name": "n", "destination": "kustomer", "settings": {}, "event": {}, "lookups": {"u": 7}},
             "nowhere": {"name": "n", "destination": "nowhere", "settings": {}, "event": {}}}
    for name, data in cases.items():
        (tmp_path / f"{name}.json").write_text(json.dumps(data))
    (tmp_path / "deeper.json").write_text('{"name": "n", "destination": "kustomer", "settings": {}, "event": ' + "[" * 5000 + "]" * 5000 + "}")
    code, out, _ = run_cli(["test", str(tmp_path)], capsys)
    assert code == 1
    assert out.splitlines() == [
        f"ERROR {tmp_path}/deep.json: a fixture is nested deeper than 250 levels",
        f"ERROR {tmp_path}/deeper.json: a fixture is nested deeper than 250 levels",
        f"ERROR {tmp_path}/inputs.json: fixture 'inputs' must be a list of inputs",
        f"ERROR {tmp_path}/lookups.json: fixture 'lookups': the answer for u is not {{status, body}}; "
        "look-up answers must be an object of URL -> {status: <int>, body: <any JSON>}",
        f"ERROR {tmp_path}/nowhere.json: destination 'nowhere': no destination or mapping folder by that name "
        f"(known: {', '.join(known_names())})",
        "0 passed, 5 failed"]


def test_fuzz_one_result_line_per_input_line(tmp_path: Path, settings_file: Path) -> None:
    """A few thousand mixed lines (valid, broken, binary, deep, odd unicode): exactly one JSON result
    line per non-blank input line, in order, valid UTF-8, no traceback, exit 1."""
    rng = random.Random(9)
    makers = [
        lambda: json.dumps(dict(TRACK, userId=f"u{rng.randrange(1000)}")).encode(),
        lambda: json.dumps({"type": rng.choice(["track", "page", "screen", "alias", "", 7]), "userId": "u",
                            "properties": {"n": rng.choice([1, 2**70, -(2**63) - 1, 1.5, None, "\u00e9\U0001f642"])}}).encode(),
        lambda: GOOD[: rng.randrange(len(GOOD))],  # truncated
        lambda: bytes(rng.choice([b for b in range(256) if b != 10]) for _ in range(rng.randrange(1, 60))),  # binary
        lambda: rng.choice([b"[", b"{\"a\":"]) * rng.randrange(90, 3000),  # deep, unclosed
        lambda: b"[" * (n := rng.randrange(90, 3000)) + b"]" * n,  # deep
        lambda: b'{"type":"track","userId":"\\ud83d\\ude42' [: rng.randrange(28, 40)] + b'","event":"e"}',  # surrogates
        lambda: rng.choice(["\u00a0", "\x1c", "\ufeff", "\u2028", "NaN", "-Infinity", "1e400", "null", "[]", '"x"']).encode(),
        lambda: rng.choice([b"", b"  ", b"\t\r"]),  # blank: no result
    ]
    lines = [GOOD] + [rng.choice(makers)() for _ in range(3000)]
    code, results, err = run_bytes(tmp_path, settings_file, b"\n".join(lines) + b"\n")
    expected = [number for number, line in enumerate(lines, start=1) if line.strip(b" \t\r\n")]
    assert [r["metadata"]["line"] for r in results] == expected
    assert all(set(r) in ({"output", "statusCode", "metadata"}, {"error", "statusCode", "metadata"}) for r in results)
    assert code == 1
    assert f"kustomer: {len(expected)} events," in err


def test_stdin_that_is_not_utf8_is_an_error_in_its_place(settings_file: Path) -> None:
    """Item 2: from stdin a Latin-1 byte became \\udce9 and crashed the writer after earlier output."""
    done = subprocess.run([sys.executable, "-m", "transformer", "run", "-d", "kustomer", "-s", str(settings_file)],
                          input=GOOD + b"\n" + b'{"type":"track","userId":"Caf\xe9","event":"e"}\n' + GOOD + b"\n",
                          capture_output=True, env=dict(os.environ, PYTHONPATH=str(ROOT)), check=False, timeout=60)
    results = [json.loads(line) for line in done.stdout.decode("utf-8").splitlines()]
    assert done.returncode == 1 and b"Traceback" not in done.stderr
    assert [r["statusCode"] for r in results] == [200, 400, 200]
    assert results[1]["error"] == "<stdin>:2: not valid UTF-8 (byte 30 is 0xe9)"


@pytest.mark.parametrize(("data", "before"), [(b"[" + GOOD, [200]), (b"[", []), (b" [\n" + GOOD + b",\n", [200]),
                                             (b"[" + GOOD + b', {"type": ', [200, 400])],
                         ids=["after-an-element", "empty", "after-a-comma", "inside-an-element"])
def test_a_json_array_not_closed_is_an_error_in_its_place(tmp_path: Path, settings_file: Path, data: bytes,
                                                          before: list[int]) -> None:
    """A missing ']' once passed with exit 0: the file was cut short, so its end is an error result."""
    code, results, _ = run_bytes(tmp_path, settings_file, data, name="events.json")
    assert code == 1
    assert results[-1]["statusCode"] == 400 and results[-1]["metadata"]["file"].endswith("events.json")
    assert re.fullmatch(r".*events\.json: the JSON array is not closed \(no '\]'( after element \d)?\)", results[-1]["error"])
    assert [r["statusCode"] for r in results[:-1]] == before


def test_a_bracket_left_open_inside_an_element_does_not_hide_the_arrays_end(tmp_path: Path, settings_file: Path) -> None:
    code, results, _ = run_bytes(tmp_path, settings_file, b"[" + GOOD + b', {"a": [1, 2}, {"b": ]', name="events.json")
    assert code == 1 and [r["statusCode"] for r in results] == [200, 400, 400]
    assert all("not closed" not in r.get("error", "") for r in results)


@pytest.mark.parametrize("command", ["run", "send"])
def test_a_closed_stdout_is_exit_2_with_one_line_on_stderr(tmp_path: Path, settings_file: Path, command: str) -> None:
    """`transformer run ... | head -1` once exited 0 silently although results were lost."""
    events = tmp_path / "events.ndjson"
    events.write_bytes((GOOD + b"\n") * 20000)
    extra = ["--dry-run", "--lookups", str(tmp_path / "none.json")] if command == "send" else []
    (tmp_path / "none.json").write_text("{}")
    process = subprocess.Popen([sys.executable, "-m", "transformer", command, "-d", "kustomer", "-s", str(settings_file),
                                *extra, str(events)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert process.stdout is not None and process.stderr is not None
    assert json.loads(process.stdout.readline())["statusCode"] == 200
    process.stdout.close()  # the reader goes away, as `head -1` does
    err = process.stderr.read().decode()
    assert process.wait(timeout=120) == 2
    assert err.splitlines()[-1] == "transformer: standard output was closed before every result was written"
    assert "Traceback" not in err and "Exception ignored" not in err


def test_run_and_explain_read_an_event_alike_a_bom_included(tmp_path: Path, settings_file: Path) -> None:
    """explain once failed on a BOM that run skips: both read an input the same way."""
    path = tmp_path / "event.json"
    path.write_bytes(b"\xef\xbb\xbf" + GOOD)
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for command in (["run", str(path)], ["explain", str(path)], ["explain", "-"]):
        done = subprocess.run([sys.executable, "-m", "transformer", command[0], "-d", "kustomer", "-s", str(settings_file),
                               *command[1:]], input=path.read_bytes(), capture_output=True, env=env, timeout=60, check=False)
        assert done.returncode == 0, done.stderr


def test_test_says_why_no_fixture_ran(tmp_path: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """`test -d segmnet`, a folder without that destination's fixtures, an empty folder: once only
    "0 passed, 0 failed" and exit 1, no hint."""
    monkeypatch.chdir(ROOT)
    code, out, err = run_cli(["test", "-d", "segmnet"], capsys)
    assert (code, out) == (2, "") and "no destination 'segmnet' (did you mean `segment`?)" in err
    code, out, _ = run_cli(["test", "fixtures/segment", "-d", "kustomer"], capsys)
    assert code == 1 and out.splitlines() == ["no fixtures in fixtures/segment for destination kustomer", "0 passed, 0 failed"]
    code, out, _ = run_cli(["test", str(tmp_path)], capsys)
    assert code == 1 and out.splitlines() == [f"no fixtures in {tmp_path}", "0 passed, 0 failed"]


def test_an_option_of_another_command_is_named_as_such_not_suggested_as_itself(capsys: Any) -> None:
    """`compile -d kustomer`: -d is run's (and others'); "did you mean `-d`?" would be no help."""
    with pytest.raises(SystemExit) as exited:
        cli.main(["compile", "-d", "kustomer"])
    err = capsys.readouterr().err
    assert exited.value.code == 2
    assert "did you mean `-d`" not in err
    assert "-d is an option of transformer run" in err and "not of this command" in err
    with pytest.raises(SystemExit):
        cli.main(["compile", "kustomer", "--destinaton", "x"])
    assert "(did you mean `--destination`?)" in capsys.readouterr().err
