"""Shared by the studio's tests: a temporary copy of a destination, and the studio served from it."""
from __future__ import annotations

import shutil
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from transformer.studio import Workspace, bind, server

ROOT = Path(__file__).resolve().parent.parent


def copy_destination(tmp_path: Path, name: str = "kustomer", pattern: str = "*.json") -> tuple[Path, Path]:
    """mappings/NAME and the fixtures/NAME files matching ``pattern`` copied under ``tmp_path`` (the
    studio writes; the repo's files stay as they are)."""
    folder = shutil.copytree(ROOT / "mappings" / name, tmp_path / "mappings" / name)
    fixtures = tmp_path / "fixtures" / name
    fixtures.mkdir(parents=True)
    for path in (ROOT / "fixtures" / name).glob(pattern):
        shutil.copy(path, fixtures / path.name)
    return Path(folder), fixtures


@contextmanager
def serving(workspace: Workspace) -> Iterator[str]:
    """The studio for ``workspace`` on a free loopback port, in a thread; yields its URL."""
    sock = bind(0)
    studio = server(workspace, sock)
    thread = threading.Thread(target=studio.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not studio.started and thread.is_alive() and time.monotonic() < deadline:
        time.sleep(0.01)
    assert studio.started, "the studio did not start within 10 s"
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        studio.should_exit = True
        thread.join(timeout=10)
        sock.close()
