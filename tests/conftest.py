from __future__ import annotations

import tempfile
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

import transformer


@pytest.fixture(autouse=True, scope="session")
def temporary_files_under_pytests_folder(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """What the docs' examples, Beam and the commands the tests start make with tempfile (and
    leave, as an example that calls mkdtemp does) goes under pytest's own folder, which keeps
    only its last few runs: a test run leaves nothing in the machine's temporary folder."""
    folder = str(tmp_path_factory.mktemp("tempfile"))
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tempfile, "tempdir", folder)
        patch.setenv("TMPDIR", folder)  # the commands tests start, and their workers
        yield

# A small destination used to test the engine's pieces on their own. Each test adds the rule it
# needs as the body of a "test" event.
BASE = """\
name: demo
settings:
  type: object
  required: [key]
  properties:
    key: {type: string, minLength: 1}
    flag: {type: boolean, default: false}
    other: {type: boolean}
    mode: {enum: [a, b]}
secrets: [key]
paths:
  uid: [userId, traits.id]
request:
  method: POST
  endpoint: {const: "https://example.invalid/events"}
  headers:
    Authorization: {template: "Key {k}", vars: {k: {setting: key}}}
events:
  test: test.yaml
"""

SETTINGS = {"key": "demo-secret-key-0001"}


@pytest.fixture
def make_destination(tmp_path: Path) -> Callable[..., transformer.Destination]:
    """Build a mapping folder from YAML snippets and load it."""

    def make(event_yaml: str, destination_yaml: str = BASE) -> transformer.Destination:
        (tmp_path / "destination.yaml").write_text(textwrap.dedent(destination_yaml))
        (tmp_path / "test.yaml").write_text(textwrap.dedent(event_yaml))
        return transformer.load(tmp_path)

    return make


@pytest.fixture
def body_of(make_destination: Callable[..., transformer.Destination]) -> Callable[..., object]:
    """Compile ``rule`` as the whole body and return what it gives for ``event``."""

    def run(rule: str, event: dict[str, object], settings: dict[str, object] | None = None) -> object:
        destination = make_destination("body:\n" + textwrap.indent(textwrap.dedent(rule), "  "))
        return destination.transform({"type": "test", **event}, settings or SETTINGS)["body"]["JSON"]

    return run
