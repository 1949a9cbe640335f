"""The examples of the README and of every docs page run, and the README's Quick start is the two
commands CI relies on."""
from __future__ import annotations

import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.docs_pages import README as README_PATH
from tests.docs_pages import ROOT, blocks, page, pages

README = README_PATH.read_text(encoding="utf-8")
DOCUMENTS = [README_PATH, *pages()]
PYTHON = {doc: blocks(doc.read_text(encoding="utf-8"), "python") for doc in DOCUMENTS}


def test_every_python_example_is_collected() -> None:
    """The README held 13 examples before they moved into docs/; none may stop being run."""
    assert sum(len(found) for found in PYTHON.values()) >= 14
    assert len(PYTHON[README_PATH]) == 1  # the README's ten-line example


@pytest.mark.parametrize("doc", [d for d in DOCUMENTS if PYTHON[d]], ids=lambda d: str(d.relative_to(ROOT)))
def test_python_examples_run_in_order(doc: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Each page's examples run in order in one namespace of their own, as a reader of that page
    would run them: a page defines every name its examples use."""
    monkeypatch.chdir(ROOT)
    namespace: dict[str, object] = {}
    for block in PYTHON[doc]:
        try:
            exec(compile(block, str(doc.relative_to(ROOT)), "exec"), namespace)  # noqa: S102 - the docs' own code
        except AssertionError:
            edited = mappings_edited()
            if edited is None:
                raise
            pytest.skip(f"an example shows what the committed mappings give, and mappings/ has changes not committed "
                        f"({edited}): commit them with the docs they change")


def mappings_edited() -> str | None:
    """What ``git diff`` says changed in mappings/ since the last commit (a user's edit in their
    clone), or None when nothing did (or there is no git to ask)."""
    if shutil.which("git") is None or not (ROOT / ".git").exists():
        return None
    done = subprocess.run(["git", "diff", "--shortstat", "HEAD", "--", "mappings"], cwd=ROOT, capture_output=True,
                          text=True, check=False)
    return done.stdout.strip() or None if done.returncode == 0 else None


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second() -> None:
    section = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    [block] = blocks(section, "sh")
    commands = block.strip().splitlines()
    assert len(commands) == 2
    assert "transformer run" in commands[0] and "examples/" in commands[0]
    assert "pytest" in commands[1]
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8")
    assert commands[1] in ci.splitlines()


def test_cli_examples_on_the_bundled_events_run(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from transformer import cli

    monkeypatch.chdir(ROOT)
    commands = [line for doc in DOCUMENTS for block in blocks(doc.read_text(encoding="utf-8"), "sh")
                for line in block.splitlines() if line.startswith("transformer run") and "examples/" in line]
    assert len(commands) >= 2  # as many as the README had before it moved into docs/
    for command in commands:
        assert cli.main(shlex.split(command)[1:]) == 0, command
        assert capsys.readouterr().out.strip()


def fake_venv(copy: Path) -> None:
    """The clone's .venv after `pip install .`: `transformer` runs the engine installed from the
    original checkout (whose built-in mappings are unedited), never the copy's code; `python` is
    this interpreter, with pytest and the rest."""
    bin_dir = copy / ".venv" / "bin"
    bin_dir.mkdir(parents=True)
    installed = {"PYTHONPATH": str(ROOT)}
    scripts = {
        "transformer": f'PYTHONPATH={shlex.quote(installed["PYTHONPATH"])} exec {shlex.quote(sys.executable)} -P -c '
                       '"import sys; from transformer.cli import main; sys.exit(main())" "$@"',
        "python": f'exec {shlex.quote(sys.executable)} "$@"',
    }
    for name, line in scripts.items():
        (bin_dir / name).write_text(f"#!/bin/sh\n{line}\n")
        (bin_dir / name).chmod(0o755)


def apply_the_edit(root: Path, section: str, dry_run: bool = False) -> str:
    """Make the page's ```diff edit in ``root``: "applies" (done, unless ``dry_run``), or "made"
    when the file already holds the change (a user followed the walk-through there)."""
    [edit] = re.findall(r"```diff\n(.*?)```", section, flags=re.S)
    target = root / re.search(r"^\+\+\+ (\S+)$", edit, flags=re.M).group(1)  # type: ignore[union-attr]
    removed = "".join(line[1:] + "\n" for line in edit.splitlines() if line.startswith("-") and not line.startswith("---"))
    added = "".join(line[1:] + "\n" for line in edit.splitlines() if line.startswith("+") and not line.startswith("+++"))
    text = target.read_text(encoding="utf-8")
    if removed not in text and added in text:
        return "made"
    assert text.count(removed) == 1, "the page's diff must apply to the file as it is"
    if not dry_run:
        target.write_text(text.replace(removed, added), encoding="utf-8")
    return "applies"


def test_how_to_change_a_field_walk_through_runs_as_written(tmp_path: Path) -> None:
    """The walk-through in docs/language/how-to-change-a-field.md, literally, on a copy of the
    repository: the edit shows in check, test, explain and run, and after the golden files are
    updated, test passes."""
    if shutil.which("git") is None or shutil.which("sh") is None:
        pytest.skip("the walk-through's commands need sh and git")
    section = page("language/how-to-change-a-field.md")
    copy = tmp_path / "clone"
    shutil.copytree(ROOT, copy, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.egg-info", "build",
                                                               "dist", ".pytest_cache", ".hypothesis", "page.json"))
    fake_venv(copy)
    subprocess.run(["git", "init", "-q"], cwd=copy, check=True)  # step 3 reviews the diff with git
    subprocess.run(["git", "add", "-A"], cwd=copy, check=True)
    if apply_the_edit(ROOT, section, dry_run=True) == "made":  # a user followed the walk-through in this checkout
        pytest.skip("the walk-through's edit is already made in this checkout: it cannot be made again here")
    apply_the_edit(copy, section)

    ran: dict[str, subprocess.CompletedProcess[str]] = {}
    for block in blocks(section, "sh"):
        for command in block.strip().splitlines():
            done = subprocess.run(["sh", "-c", command], cwd=copy, capture_output=True, text=True, timeout=600, check=False)
            word = command.split()[1] if command.startswith(".venv/bin/transformer") else command.split()[0]
            word = "update" if "--update" in command else word
            ran[word + ("+" if word in ran else "")] = done  # the second `transformer test` is "test+"

    kustomer = copy.resolve() / "mappings" / "kustomer"
    assert ran["check"].returncode == 0, ran["check"].stdout
    assert ran["check"].stdout.startswith(f"ok: {kustomer} (kustomer: identify, track, page, screen)")
    test = ran["test"]
    assert test.returncode == 1
    assert f"transformer: kustomer from {kustomer}" in test.stdout
    changed = {line.replace(" ", "") for line in test.stdout.splitlines() if line[:1] in "+-"}
    assert {'-"name":"Web-Page-Viewed-Pricing",', '+"name":"Page-Pricing",'} <= changed
    explain = ran["explain"]
    assert explain.returncode == 0, explain.stderr
    assert 'body.event.name = "Page-Pricing"' in explain.stdout and "  from name\n" in explain.stdout
    assert "  tracking.yaml:" in explain.stdout and f"transformer: kustomer from {kustomer}" in explain.stderr
    run = ran["run"]
    assert run.returncode == 0, run.stderr
    assert '"name":"Page-' in run.stdout and "Web-Page-Viewed-" not in run.stdout
    update = ran["update"]  # step 3's first command: it once exited 1 (pytest-snapshot's teardown error)
    assert update.returncode == 0, update.stdout + update.stderr
    assert "UPDATED fixtures/kustomer/page-named.json: " in update.stdout and "FAIL" not in update.stdout
    assert ran["git"].returncode == 0 and "fixtures/kustomer/page-named.json" in ran["git"].stdout
    assert ran["test+"].returncode == 0, ran["test+"].stdout
    assert ran["test+"].stdout.rstrip().endswith(" passed, 0 failed")
    # Only the fixtures the change concerns were rewritten, and they now hold the new name.
    fixture = json.loads((copy / "fixtures" / "kustomer" / "page-named.json").read_text(encoding="utf-8"))
    assert fixture["expected"]["output"]["body"]["JSON"]["event"]["name"] == "Page-Pricing"
    assert (copy / "fixtures" / "kustomer" / "track-basic.json").read_text() == \
           (ROOT / "fixtures" / "kustomer" / "track-basic.json").read_text()
