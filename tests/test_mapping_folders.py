"""Where a destination name's mappings come from: one rule for Python, the CLI and the engines,
and one notice when the working directory's copy differs from the installed one."""
from __future__ import annotations

import re
import shutil
import warnings
from pathlib import Path

import pytest

import transformer
from transformer import cli
from transformer.engines.shipped import Shipped
from transformer.language import folders

SETTINGS = {"apiKey": "k"}
PAGE = {"type": "page", "userId": "u-1", "name": "Pricing"}


@pytest.fixture
def checkout(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A working directory whose mappings/kustomer differs from the installed copy (pages renamed)."""
    copy = tmp_path / "mappings" / "kustomer"
    shutil.copytree(folders.BUILTIN / "kustomer", copy)
    tracking = copy / "tracking.yaml"
    # Whatever the page name's template says (a user may have changed it), the checkout says this.
    text, changed = re.subn(r'template: "[^"\n]*\{name\}"', 'template: "Checkout-{name}"', tracking.read_text(), count=1)
    assert changed == 1
    tracking.write_text(text)
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(folders, "_told", set())
    return copy


def test_python_loads_the_checkout_copy_and_says_so_once(checkout: Path) -> None:
    with pytest.warns(transformer.MappingCopyWarning) as told:
        destination = transformer.load("kustomer")
    [notice] = told
    assert str(checkout) in str(notice.message) and str(folders.BUILTIN / "kustomer") in str(notice.message)
    assert notice.filename == __file__  # points at the caller's line, not the library's
    assert destination.folder == checkout
    assert destination.transform(PAGE, SETTINGS)["body"]["JSON"]["event"]["name"] == "Checkout-Pricing"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # a second load in the same process is silent
        transformer.load("kustomer")


def test_an_identical_checkout_copy_is_used_without_a_notice(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(folders.BUILTIN / "kustomer", tmp_path / "mappings" / "kustomer")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(folders, "_told", set())
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert transformer.load("kustomer").folder == (tmp_path / "mappings" / "kustomer").resolve()


def test_outside_a_checkout_a_name_is_the_installed_copy(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    assert transformer.load("kustomer").folder == (folders.BUILTIN / "kustomer").resolve()


def test_engines_ship_what_load_gives(checkout: Path) -> None:
    with pytest.warns(transformer.MappingCopyWarning):
        shipped = Shipped("kustomer", SETTINGS)
    assert shipped.load().transform(PAGE, SETTINGS)["body"]["JSON"]["event"]["name"] == "Checkout-Pricing"


def test_the_cli_gives_the_notice_as_one_line(checkout: Path, capsys: pytest.CaptureFixture[str]) -> None:
    (checkout.parent.parent / "page.json").write_text('{"type": "page", "userId": "u-1", "name": "Pricing"}')
    (checkout.parent.parent / "s.json").write_text('{"apiKey": "k"}')
    assert cli.main(["explain", "-d", "kustomer", "-s", "s.json", "page.json"]) == 0
    err = capsys.readouterr().err
    notice = [line for line in err.splitlines() if "the installed copy" in line]
    assert notice == [f"transformer: kustomer: using {checkout} (./mappings/kustomer in the working directory); "
                      f"the installed copy {folders.BUILTIN / 'kustomer'} has different files "
                      "(reinstall, or run from elsewhere, to use it)"]
