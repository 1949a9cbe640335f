"""check and test for people and for programs: fixture diffs in the file's own order and lines,
JSON and JUnit reports, -k, --quiet/--verbose on every command, colour only on a terminal."""
from __future__ import annotations

import io
import json
import re
import sys
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from transformer import cli
from transformer.cli import common, fixtures

from .test_cli import DEMO_FIXTURE, DEMO_TRACK, make_checkout, run_cli


@pytest.fixture(autouse=True)
def _normal_verbosity() -> Any:
    yield
    common.set_verbosity(common.NORMAL)  # each main() sets it; leave no --quiet behind for other tests


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The demo checkout with a second fixture, and the rule renamed so that the first one fails."""
    folder = make_checkout(tmp_path)
    first = json.loads((tmp_path / "fixtures" / "demo" / "track.json").read_text())
    for name, data in (("track", first), ("other", {**first, "name": "track: other"})):  # as --update writes them
        (tmp_path / "fixtures" / "demo" / f"{name}.json").write_text(fixtures.render(data, data["expected"]))
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("NO_COLOR", raising=False)
    return folder


def _break(folder: Path) -> None:
    (folder / "track.yaml").write_text(DEMO_TRACK.replace("name:", "title:"))


def test_a_fixture_diff_keeps_the_files_key_order_and_line_numbers(checkout: Path, capsys: Any) -> None:
    _break(checkout)
    code, out, _ = run_cli(["test", "-k", "a named event"], capsys)
    assert code == 1
    fixture = (checkout.parent.parent / "fixtures" / "demo" / "track.json").read_text().splitlines()
    [hunk] = re.findall(r"^@@ -(\d+),\d+ \+\d+,\d+ @@$", out, flags=re.M)
    removed = [line[1:] for line in out.splitlines() if line.startswith("-") and not line.startswith("---")]
    first_changed = int(hunk) + next(i for i, line in enumerate(out.split("@@\n", 1)[1].splitlines())
                                     if line.startswith("-"))
    assert fixture[first_changed - 1] == removed[0] == '          "name": "Signed Up"'
    added = [line[1:] for line in out.splitlines() if line.startswith("+") and not line.startswith("+++")]
    assert removed == ['          "name": "Signed Up"'] and added == ['          "title": "Signed Up"']  # in the key's own place: no sorted re-ordering
    assert "--- fixtures/demo/track.json (expected)" in out


def test_k_selects_fixtures_by_name_or_file(checkout: Path, capsys: Any) -> None:
    assert run_cli(["test", "-k", "OTHER"], capsys)[1].splitlines()[-1] == "1 passed, 0 failed"
    assert run_cli(["test", "-k", "track*"], capsys)[1].splitlines()[-1] == "2 passed, 0 failed"
    code, out, _ = run_cli(["test", "-k", "nothing-like-it"], capsys)
    assert code == 1 and "no fixtures in fixtures matching 'nothing-like-it'" in out


def test_test_as_json_and_junit(checkout: Path, capsys: Any, tmp_path: Path) -> None:
    _break(checkout)
    junit, report = tmp_path / "junit.xml", tmp_path / "report.json"
    code, out, _ = run_cli(["test", "--format", "json", "--report", f"junit:{junit}", "--report", f"json:{report}"], capsys)
    assert code == 1
    data = json.loads(out)  # stdout holds the JSON only
    assert (data["passed"], data["failed"]) == (0, 2)
    assert {case["name"] for case in data["cases"]} == {DEMO_FIXTURE["name"], "track: other"}
    assert all(case["seconds"] > 0 and case["details"]["diff"] for case in data["cases"])
    assert json.loads(report.read_text()) == data
    suite = ET.parse(junit).getroot().find("testsuite")
    assert suite is not None and (suite.get("tests"), suite.get("failures")) == ("2", "2")
    failure = suite.find("testcase/failure")
    assert failure is not None and '+          "title": "Signed Up"' in (failure.text or "")


def test_check_as_json_and_junit(checkout: Path, capsys: Any, tmp_path: Path) -> None:
    (checkout / "track.yaml").write_text(DEMO_TRACK.replace("path: userId", "pth: userId"))
    junit = tmp_path / "check.xml"
    code, out, _ = run_cli(["check", "--format", "json", "--report", f"junit:{junit}"], capsys)
    assert code == 1
    [case] = json.loads(out)["cases"]
    assert case["outcome"] == "failed"
    assert case["details"]["located"][0]["file"].endswith("track.yaml") and case["details"]["located"][0]["line"] == 3
    testcase = ET.parse(junit).getroot().find("testsuite/testcase")
    assert testcase is not None and "track.yaml:3" in (testcase.findtext("failure") or "")


def test_a_bad_report_kind_is_a_usage_error(checkout: Path, capsys: Any) -> None:
    with pytest.raises(SystemExit) as exit_:
        cli.main(["test", "--report", "html:x.html"])
    assert exit_.value.code == 2 and "KIND one of junit, json" in capsys.readouterr().err


def test_quiet_and_verbose(checkout: Path, capsys: Any) -> None:
    code, out, _ = run_cli(["test", "--quiet"], capsys)
    assert (code, out) == (0, "2 passed, 0 failed\n")  # no "demo from" line
    code, out, _ = run_cli(["test", "-v"], capsys)
    assert re.search(r"^PASS fixtures/demo/other.json: track: other \(\d+\.\d ms\)$", out, flags=re.M)
    code, out, _ = run_cli(["check", "-v"], capsys)
    assert re.search(r"^ok: .* \(demo: track\) in \d+ ms$", out, flags=re.M)


@pytest.mark.parametrize("command", ["run", "check", "test", "explain", "new", "send"])
def test_every_command_takes_quiet_and_verbose(command: str, capsys: Any) -> None:
    with pytest.raises(SystemExit):
        cli.main([command, "--help"])
    help_text = capsys.readouterr().out
    assert "--quiet" in help_text and "--verbose" in help_text


class _Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_colour_only_on_a_terminal_and_never_with_no_color(checkout: Path, capsys: Any,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    _break(checkout)
    assert "\033[" not in run_cli(["test"], capsys)[1]  # captured: not a terminal
    terminal = _Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    cli.main(["test"])
    assert "\033[31mFAIL\033[0m" in terminal.getvalue() and "\033[32m+" in terminal.getvalue()
    monkeypatch.setenv("NO_COLOR", "1")
    terminal.seek(0)
    terminal.truncate()
    cli.main(["test"])
    assert "FAIL" in terminal.getvalue() and "\033[" not in terminal.getvalue()
