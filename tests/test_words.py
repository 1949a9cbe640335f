"""Errors in a user's words: one "did you mean" for an unknown destination, event type, setting,
command or flag on every command, and broken JSON described as what is wrong where."""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import cli
from transformer.runtime.json_words import json_problem

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture
def files(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(ROOT)
    (tmp_path / "s.json").write_text('{"apiKey": "k-1", "genericPag": true}')
    (tmp_path / "e.json").write_text('{"type": "identfy", "userId": "u-1"}')
    return tmp_path


def _main(args: list[str], capsys: Any) -> tuple[int, str, str]:
    try:
        code = cli.main(args)
    except SystemExit as exit_:  # argparse's own usage errors
        code = int(exit_.code or 0)
    out, err = capsys.readouterr()
    return code, out, err


@pytest.mark.parametrize("args", [
    ["run", "-d", "kustomr", "-s", "{s}"],
    ["explain", "-d", "kustomr", "-s", "{s}", "{e}"],
    ["send", "-d", "kustomr", "-s", "{s}", "--dry-run", "{e}"],
    ["test", "-d", "kustomr"],
    ["compile", "kustomr"],
])
def test_one_suggestion_for_an_unknown_destination_on_every_command(files: Path, capsys: Any, args: list[str]) -> None:
    code, out, err = _main([a.format(s=files / "s.json", e=files / "e.json") for a in args], capsys)
    assert (code, out) == (2, "")
    assert "transformer: no destination 'kustomr' (did you mean `kustomer`?) (known: " in err


def test_unknown_event_type_setting_command_and_flag(files: Path, capsys: Any) -> None:
    code, out, err = _main(["explain", "-d", "kustomer", "-s", str(files / "s.json"), str(files / "e.json")], capsys)
    assert code == 1 and "Event type 'identfy' is not supported (did you mean `identify`?)" in out
    assert "transformer: unknown setting 'genericPag' (did you mean `genericPage`?), ignored" in err
    (files / "bad.json").write_text('{"apiKye": "k-1"}')
    code, _, err = _main(["run", "-d", "kustomer", "-s", str(files / "bad.json")], capsys)
    assert code == 2 and "setting apiKey is required; unknown setting 'apiKye' (did you mean `apiKey`?)" in err
    code, _, err = _main(["tset"], capsys)
    assert code == 2 and "invalid choice: 'tset'" in err and "(did you mean `test`?)" in err
    code, _, err = _main(["test", "--reprot", "junit:x.xml"], capsys)
    assert code == 2 and "unrecognized arguments: --reprot (did you mean `--report`?)" in err
    code, _, err = _main(["check", "--format", "jsn"], capsys)
    assert code == 2 and "(did you mean `json`?)" in err
    with pytest.raises(transformer.TransformError, match=r"'identfy' is not supported \(did you mean `identify`\?\)"):
        transformer.load("kustomer").transform({"type": "identfy", "userId": "u"}, {"apiKey": "k"})


@pytest.mark.parametrize(("text", "words"), [
    ('{"type": "identify", "userId": "u-1", "traits": {"em\n',
     "the line ends inside a string (column 53): missing '\"' then '}' then '}' at the end"),
    ('{"type": "track", "properties": {"a": 1}\n', "the line ends before the JSON is complete (column 41): missing '}' at the end"),
    ('[1, 2', "the line ends before the JSON is complete (column 6): missing ']' at the end"),
    ('{"a" 1}', "a ':' must follow the key (column 6)"),
    ('{a: 1}', "a key must be a string in double quotes (column 2)"),
    ('{"a": 1} x', "there is more text after the JSON value (column 10)"),
    ('{"a": "x\ty"}', "a raw control character (a tab, say) inside a string: write it as \\t or \\n (column 9)"),
    ('{"a": "x\\\\"}', None),  # an escaped backslash closes nothing: valid
    ('{\n  "a": [1,\n', "the text ends before the JSON is complete (line 2 column 11): missing ']' then '}' at the end"),
])
def test_broken_json_in_words(text: str, words: str | None) -> None:
    try:
        json.loads(text)
    except json.JSONDecodeError as error:
        assert json_problem(error) == words
    else:
        assert words is None


def test_run_reports_a_truncated_line_in_words(files: Path, capsys: Any) -> None:
    events = files / "events.ndjson"
    events.write_text('{"type": "track", "userId": "u-1", "event": "Signed Up", "properties": {"plan": "gol\n')
    code, out, _ = _main(["run", "-d", "segment", "-s", "examples/segment-settings.yaml", str(events)], capsys)
    assert code == 1
    assert json.loads(out)["error"] == (f"{events}:1: not valid JSON: the line ends inside a string (column 85): "
                                        "missing '\"' then '}' then '}' at the end")
