"""``transformer new``: a mapping folder and a fixture to start a destination from.

The files pass ``transformer check`` and ``transformer test`` as they are, so every edit after
that shows its effect at once. The fixture's expected result is computed, not written by hand.
"""
from __future__ import annotations

import os
import re
from pathlib import Path

from ..runtime.destination import Destination
from . import fixtures

_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")
_HERE = Path(__file__).resolve().parent.parent  # the package: a wheel ships schema/ inside it
# Installed, the editor schemas are inside the package; in a checkout, beside it.
SCHEMAS = _HERE / "schema" if (_HERE / "schema").is_dir() else _HERE.parent / "schema"

_DESTINATION = """\
# yaml-language-server: $schema={schema}
# {name}: where its events go and how. Change a rule, then run `transformer check` and `transformer test`.
name: {name}
description: Events sent to {name}.

settings:
  type: object
  required: [token, baseUrl]
  properties:
    token: {{type: string, minLength: 1, description: "Sent as Authorization: Bearer <token>."}}
    baseUrl: {{type: string, pattern: "^https?://\\\\S*[^/\\\\s]$", description: "The API's base URL, no trailing /."}}
secrets: [token]

request:
  method: POST
  headers:
    Content-Type: {{const: application/json}}
    Authorization: {{template: "Bearer {{token}}", vars: {{token: {{setting: token}}}}}}

# Event type -> the file of its rules. Add a type here and a file beside this one.
events:
  track: track.yaml
"""

_TRACK = """\
# yaml-language-server: $schema={schema}
description: track -> POST {{baseUrl}}/events.

request:
  endpoint: {{template: "{{base}}/events", vars: {{base: {{setting: baseUrl}}}}}}

body:
  object:
    userId: {{path: [userId, anonymousId], required: a track needs a userId or an anonymousId}}
    event: {{path: event, required: a track needs the event name in event}}
    properties: {{path: properties}}
    timestamp: {{path: [timestamp, originalTimestamp]}}
"""

_FIXTURE = {
    "name": "track: a named event with properties",
    "settings": {"token": "test-token-0001", "baseUrl": "https://api.example.com"},
    "event": {"type": "track", "userId": "user-1", "event": "Signed Up", "properties": {"plan": "free"},
              "timestamp": "2024-01-02T03:04:05.000Z"},
}


class ScaffoldError(Exception):
    """The name is not usable, or the folder is already there."""


def scaffold(name: str, root: Path) -> list[Path]:
    """Write ``root/mappings/NAME`` (destination.yaml, track.yaml) and ``root/fixtures/NAME/track.json``;
    return the files written."""
    if not _NAME.match(name):
        raise ScaffoldError(f"{name!r} is not a destination name: letters, digits and _, not starting with a digit")
    folder = root / "mappings" / name
    fixture_dir = root / "fixtures" / name
    for path in (folder, fixture_dir):
        if path.exists():
            raise ScaffoldError(f"{path} already exists")
    folder.mkdir(parents=True)
    written = [folder / "destination.yaml", folder / "track.yaml"]
    written[0].write_text(_DESTINATION.format(name=name, schema=_schema_ref(folder, "destination")), encoding="utf-8")
    written[1].write_text(_TRACK.format(schema=_schema_ref(folder, "event")), encoding="utf-8")
    data = {"name": _FIXTURE["name"], "destination": name, **{k: v for k, v in _FIXTURE.items() if k != "name"}}
    expected = fixtures.run(data, Destination.from_folder(folder))
    fixture_dir.mkdir(parents=True)
    written.append(fixture_dir / "track.json")
    written[2].write_text(fixtures.render(data, expected), encoding="utf-8")
    return written


def _schema_ref(folder: Path, kind: str) -> str:
    """The editor schema for a file in ``folder``, as a path relative to it: root/schema in a
    checkout (beside root/mappings, as for the built-in mappings), else the installed package's
    copy; a file:// URI only when no relative path leads there (another drive on Windows)."""
    if (folder.parent.parent / "schema" / f"{kind}.schema.json").is_file():
        return f"../../schema/{kind}.schema.json"
    schema = (SCHEMAS / f"{kind}.schema.json").resolve()
    try:
        return Path(os.path.relpath(schema, folder.resolve())).as_posix()
    except ValueError:
        return schema.as_uri()
