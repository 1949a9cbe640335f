"""The studio in a real browser: headless Chromium (the OS's package) driven by Playwright.

One user's loop on a copy of kustomer: run an event, pick a field and follow its file:line into the
editor, change the rule and save with Ctrl+S, see the request change and a fixture turn red,
accept it (its golden file is rewritten), then save a broken file and see the problem at its
file:line while the last good version keeps serving. With STUDIO_SCREENSHOTS=DIR it saves the
screenshots that docs/studio.md shows. Every wait is bounded (Playwright's timeout).

Marked ``browser`` (deselected by default; CI's second step runs ``pytest -m browser``). Without
Chromium or Playwright the test is skipped, except under CI=true, where it fails.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

try:
    from playwright.sync_api import expect
except ImportError:  # the page fixture says what is missing
    expect = None

from tests.studio_support import copy_destination, serving
from transformer.studio import Workspace

pytestmark = pytest.mark.browser

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
TIMEOUT_MS = 15_000
OLD_RULE = "track: {path: event, required: track needs the event name in event}"
NEW_RULE = "track: {path: event, required: track needs the event name in event, then: [{coerce: dasherize}]}"


def _missing(what: str) -> None:
    if os.environ.get("CI") == "true":
        pytest.fail(f"{what} is missing: CI must run the browser tests (see .ci/run)")
    pytest.skip(f"{what} is missing")


@pytest.fixture
def page() -> Iterator[Any]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _missing("Playwright (the [test] extra)")
    if CHROMIUM is None:
        _missing("chromium (apt-get install chromium)")
    with tempfile.TemporaryDirectory() as profile, sync_playwright() as playwright:
        # A fresh profile each time: nothing of an earlier run (cache, storage) can make the test pass.
        browser = playwright.chromium.launch_persistent_context(profile, executable_path=CHROMIUM, args=FLAGS,
                                                                viewport={"width": 1500, "height": 900})
        try:
            tab = browser.new_page()
            tab.set_default_timeout(TIMEOUT_MS)
            errors: list[str] = []
            tab.on("pageerror", lambda error: errors.append(str(error)))
            yield tab
            assert not errors, errors  # a script error or a CSP violation would show here
        finally:
            browser.close()


def _shot(tab: Any, name: str) -> None:
    folder = os.environ.get("STUDIO_SCREENSHOTS")
    if folder:
        tab.screenshot(path=str(Path(folder) / f"studio-{name}.png"))


def test_edit_save_trace_and_accept(page: Any, tmp_path: Path) -> None:
    folder, fixtures_dir = copy_destination(tmp_path)
    with serving(Workspace(folder, fixtures_dir)) as url:
        page.goto(url)
        page.wait_for_selector("body[data-ready=true]")
        page.fill("#event", json.dumps({"type": "track", "userId": "user-1", "event": "Order Completed",
                                        "properties": {"plan": "pro"}}))
        page.fill("#settings", json.dumps({"apiKey": "kustomer-api-key-123"}))
        page.click("#run")
        name_field = page.locator("#request [data-field='body.event.name']")
        expect(page.locator("#request")).to_contain_text('"Order Completed"')
        assert "kustomer-api-key-123" not in page.inner_text("#request")  # redacted, as explain shows it

        # By keyboard: each field is a button; Enter shows its trace, redacted as explain shows it.
        page.focus("#request [data-field='headers.Authorization']")
        page.keyboard.press("Enter")
        expect(page.locator("#trace h3")).to_have_text('headers.Authorization = "[redacted]"')

        # A field's trace names its rule's file:line; following it puts the editor's caret there.
        name_field.click()
        expect(page.locator("#trace h3")).to_contain_text("body.event.name")  # not the trace shown before
        link = page.locator("#trace h3 + p button.loc")
        link.wait_for()
        where = link.inner_text()
        assert re.fullmatch(r"tracking\.yaml:\d+", where)
        _shot(page, "trace")
        link.click()
        line = int(where.split(":")[1])
        expect(page.locator("#file")).to_have_value("tracking.yaml")
        expect(page.locator("#gutter .here")).to_have_text(str(line))
        selected = page.locator("#editor").evaluate("e => e.value.slice(e.selectionStart, e.selectionEnd)")
        assert selected.strip().startswith("name:")

        # Change the rule, save with Ctrl+S: the request changes and a fixture turns red.
        text = page.input_value("#editor")
        assert OLD_RULE in text
        page.fill("#editor", text.replace(OLD_RULE, NEW_RULE))
        started = time.monotonic()
        page.press("#editor", "Control+s")
        expect(page.locator("#request")).to_contain_text('"Order-Completed"')
        failing = page.locator("#fixtures button.fx.fail")
        failing.first.wait_for()
        # Saved, 103 fixtures run and listed, the event run again: about 0.2 s on an idle machine;
        # the bound leaves room for a CI machine shared with other work.
        assert time.monotonic() - started < 10
        assert failing.count() >= 1
        _shot(page, "fixture-red")

        # Its diff, then accept: the golden file now expects the new value, and the fixture is green.
        name = failing.first.get_attribute("data-name")
        failing.first.click()
        expect(page.locator("pre.diff .add").last).to_contain_text('"name": "Order-Completed"')
        expect(page.locator("pre.diff .del").last).to_contain_text('"name": "Order Completed"')
        _shot(page, "diff")
        before = page.locator("#fixtures button.fx.fail").count()
        page.click("#accept")
        page.wait_for_selector(f"#fixtures button.fx.pass[data-name='{name}']")
        assert page.locator("#fixtures button.fx.fail").count() == before - 1
        assert "Order-Completed" in (fixtures_dir / name).read_text(encoding="utf-8")

        # A file that does not load: its problem at file:line, and the last good version serves on.
        broken = page.input_value("#editor").replace(NEW_RULE, NEW_RULE.replace("dasherize", "no_such_coercion"))
        page.fill("#editor", broken)
        page.press("#editor", "Control+s")
        problem = page.locator("#problems li button.loc")
        problem.first.wait_for()
        assert problem.first.inner_text() == f"tracking.yaml:{line + 3}"
        assert page.locator("#gutter .problem").count() >= 1
        page.click("#run")
        expect(page.locator("#request")).to_contain_text('"Order-Completed"')
        _shot(page, "problem")
