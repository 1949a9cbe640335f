"""Golden fixtures: each file in fixtures/ is one case, and its own snapshot; likewise each file in
examples/fixtures/<name>/, run against the example mapping folder examples/mappings/<name>/.

The test recomputes the fixture's ``expected`` and compares the whole file text. After an
intended behaviour change, ``transformer test --update`` (or ``pytest --snapshot-update``, which
then reports its rewrite as a teardown error) rewrites ``expected`` in place; review the diff of
each changed fixture like code before committing it.
"""
from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import transformer
from transformer import cli
from transformer.cli import fixtures

ROOT = Path(__file__).resolve().parent.parent / "fixtures"
FILES = fixtures.find(ROOT)
EXAMPLES = ROOT.parent / "examples"
EXAMPLE_FILES = fixtures.find(EXAMPLES / "fixtures")
_loaded: dict[str, transformer.Destination] = {}


def _destination(name: str) -> transformer.Destination:
    if name not in _loaded:
        _loaded[name] = transformer.load(name)
    return _loaded[name]


def test_fixture_tree_is_not_empty() -> None:
    counts = {name: len(list((ROOT / name).glob("*.json"))) for name in ("kustomer", "segment")}
    assert counts["kustomer"] >= 50, counts
    assert counts["segment"] >= 20, counts


def test_example_fixture_tree_is_not_empty() -> None:
    assert len(list((EXAMPLES / "fixtures" / "braze").glob("*.json"))) >= 10


@pytest.mark.parametrize("path", FILES, ids=[str(p.relative_to(ROOT).with_suffix("")) for p in FILES])
def test_fixture(path: Path, snapshot: Any) -> None:
    _check(path, lambda name: name, snapshot)


@pytest.mark.parametrize("path", EXAMPLE_FILES, ids=[str(p.relative_to(EXAMPLES).with_suffix("")) for p in EXAMPLE_FILES])
def test_example_fixture(path: Path, snapshot: Any) -> None:
    _check(path, lambda name: str(EXAMPLES / "mappings" / name), snapshot)


def _check(path: Path, mapping: Callable[[str], str], snapshot: Any) -> None:
    """Recompute the fixture's expected result with the destination ``mapping(name)`` loads."""
    data = fixtures.read(path)
    assert path.parent.name == data["destination"], "a fixture lives in the folder of its destination"
    actual = fixtures.run(data, _destination(mapping(data["destination"])))
    snapshot.snapshot_dir = path.parent
    snapshot.assert_match(fixtures.render(data, actual), path.name)


def test_transformer_test_runs_the_example_fixtures(monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(ROOT.parent)
    assert cli.main(["test", "examples/fixtures/braze", "--mappings", "examples/mappings/braze"]) == 0, capsys.readouterr()


def test_meta_capi_example_has_its_hand_checked_fixtures(monkeypatch: pytest.MonkeyPatch,
                                                         capsys: pytest.CaptureFixture[str]) -> None:
    assert len(list((EXAMPLES / "fixtures" / "meta_capi").glob("*.json"))) >= 20
    monkeypatch.chdir(ROOT.parent)
    assert cli.main(["test", "examples/fixtures/meta_capi", "--mappings", "examples/mappings/meta_capi"]) == 0, capsys.readouterr()


def test_a_fixture_fails_when_the_destination_modifies_its_input(monkeypatch: pytest.MonkeyPatch) -> None:
    destination = _destination("kustomer")
    data = fixtures.read(ROOT / "kustomer" / "track-session-and-tracking-ids-camel-case.json")
    original = destination.process_one

    def mutating(item: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        item["message"]["properties"].pop("kustomerSessionId")  # what the reference implementation does
        return original(item, **kwargs)

    monkeypatch.setattr(destination, "process_one", mutating)
    with pytest.raises(fixtures.FixtureError, match="the destination modified its input"):
        fixtures.run(data, destination)
