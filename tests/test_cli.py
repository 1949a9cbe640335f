"""The transformer command: run, check, test; exit codes, streaming input, stdout/stderr split."""
from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from transformer import cli

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


def test_run_json_array_streams_across_chunk_boundaries(tmp_path: Path, settings_file: Path, capsys: Any,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(cli, "_CHUNK", 7)  # every value straddles several reads
    events = [dict(TRACK, userId=f"user-{i}", properties={"n": i * 1000, "s": "x" * i}) for i in range(30)]
    path = tmp_path / "events.json"
    path.write_text(" [\n" + ",\n ".join(json.dumps(e) for e in events) + "\n]\n")
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(path)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 0
    assert [r["output"]["body"]["JSON"]["identity"]["externalId"] for r in results] == [f"user-{i}" for i in range(30)]
    assert results[29]["output"]["body"]["JSON"]["event"]["meta"] == {"n": 29000, "s": "x" * 29}
    assert [r["metadata"]["index"] for r in results] == list(range(30))


def test_run_broken_json_array_reports_where_it_stopped(tmp_path: Path, settings_file: Path, capsys: Any) -> None:
    path = tmp_path / "events.json"
    path.write_text(f"[{json.dumps(TRACK)}, {{\"type\": ]")
    code, out, _ = run_cli(["run", "-d", "kustomer", "-s", str(settings_file), str(path)], capsys)
    results = [json.loads(line) for line in out.splitlines()]
    assert code == 1
    assert [r["statusCode"] for r in results] == [200, 400]
    assert "element 1 of the JSON array is not valid JSON" in results[1]["error"]


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
    (["run", "-d", "nowhere", "-s", "{settings}"], "no built-in destination or mapping folder by that name"),
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


def test_check_builtin_and_broken_folders(tmp_path: Path, capsys: Any) -> None:
    code, out, _ = run_cli(["check"], capsys)
    assert code == 0
    assert "(kustomer: identify, track, page, screen)" in out and "(segment:" in out
    broken = tmp_path / "broken"
    shutil.copytree(ROOT / "mappings" / "kustomer", broken)
    text = (broken / "tracking.yaml").read_text().replace("{setting: genericScreen}", "{setting: genericScren}")
    (broken / "tracking.yaml").write_text(text)
    code, out, _ = run_cli(["check", str(broken)], capsys)
    assert code == 1
    assert out == (f"{broken}/tracking.yaml:37: body.object.event.object.name.values.screen.first[0].when.setting: "
                   "unknown setting 'genericScren' (did you mean `genericScreen`?)\n")


def test_test_command_passes_on_the_bundled_fixtures(capsys: Any) -> None:
    code, out, _ = run_cli(["test", str(ROOT / "fixtures"), "--destination", "kustomer"], capsys)
    assert code == 0
    assert out.strip().endswith("passed, 0 failed")


def test_test_command_shows_a_diff_after_a_yaml_edit(tmp_path: Path, capsys: Any) -> None:
    edited = tmp_path / "kustomer"
    shutil.copytree(ROOT / "mappings" / "kustomer", edited)
    text = (edited / "tracking.yaml").read_text().replace('"Web-Page-Viewed-{name}"', '"Page-{name}"')
    (edited / "tracking.yaml").write_text(text)
    code, out, _ = run_cli(["test", str(ROOT / "fixtures" / "kustomer" / "page-named.json"), "--mappings", str(edited)], capsys)
    assert code == 1
    assert "FAIL" in out and "page: a named page" in out
    changed = [line.replace(" ", "") for line in out.splitlines() if line[:1] in "+-" and '"name"' in line]
    assert changed == ['-"name":"Web-Page-Viewed-Pricing",', '+"name":"Page-Pricing",']
    assert out.strip().endswith("0 passed, 1 failed")


def test_python_dash_m_and_help_on_every_command() -> None:
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    for command in ([], ["run"], ["check"], ["test"]):
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


def test_run_shows_progress_on_a_terminal_only(settings_file: Path, capsys: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    clock = iter(range(0, 10_000))
    monkeypatch.setattr(cli.time, "monotonic", lambda: float(next(clock)))
    lines = (json.dumps(TRACK) + "\n") * 600
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    assert cli.main(["run", "-d", "kustomer", "-s", str(settings_file)]) == 0
    err = capsys.readouterr().err
    assert "\r256 events (" in err and "\r512 events (" in err
    monkeypatch.setattr(sys, "stdin", io.StringIO(lines))
    assert cli.main(["run", "-d", "kustomer", "-s", str(settings_file), "--no-progress"]) == 0
    assert "events (" not in capsys.readouterr().err
