"""``transformer studio``: a page on 127.0.0.1 to edit a destination's mapping files, run an event,
see the request, see why each field is what it is, and keep the fixtures green.

Needs the ``[studio]`` extra (Starlette and uvicorn); neither the engine nor the CLI imports this
package except inside the ``studio`` command. See docs/studio.md.
"""
from __future__ import annotations

import sys
from pathlib import Path

from ..errors import MappingError
from .app import bind, create_app, serve, server
from .workspace import StudioError, Workspace, field_trace

__all__ = ["StudioError", "Workspace", "bind", "create_app", "field_trace", "server", "studio_command"]


def studio_command(target: str | Path, port: int, fixtures_dir: Path | None) -> int:
    """The ``studio`` command: ``target`` is a mapping folder (a name the CLI did not find in
    ./mappings stays a string). Returns the exit status; problems are told on stderr."""
    folder = Path(target)
    if not (folder / "destination.yaml").is_file():
        print(f"transformer: studio edits a mapping folder: {target} is not one (no destination.yaml there). "
              "Give a folder, or a name in ./mappings; to change a built-in destination, copy its folder first",
              file=sys.stderr)
        return 2
    try:
        workspace = Workspace(folder, fixtures_dir or _fixtures_of(folder.resolve()))
    except MappingError as exc:
        print("transformer: the mappings have problems (fix them, then start the studio):", file=sys.stderr)
        for problem in exc.problems:
            print(f"  {problem}", file=sys.stderr)
        return 2
    try:
        return serve(workspace, port)
    except OSError as exc:  # the port is taken, say
        print(f"transformer: studio: {exc}", file=sys.stderr)
        return 2


def _fixtures_of(folder: Path) -> Path:
    """Where `transformer new` puts a destination's fixtures: ROOT/fixtures/NAME for ROOT/mappings/NAME."""
    return folder.parent.parent / "fixtures" / folder.name
