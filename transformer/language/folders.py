"""Where a destination name's mappings come from: one rule for Python, the CLI, Beam and Spark.

A name means ``./mappings/NAME`` when the working directory has one (a checkout you edit), else
the built-in installed with the package. When both exist as different folders with different
files, the user is told once per process, naming both (a ``MappingCopyWarning``).
"""
from __future__ import annotations

import warnings
from pathlib import Path

from ..errors import MappingCopyWarning

_PACKAGE = Path(__file__).resolve().parent.parent
# An installed wheel carries the mappings inside the package; a source checkout keeps them beside it.
BUILTIN = _PACKAGE / "mappings" if (_PACKAGE / "mappings").is_dir() else _PACKAGE.parent / "mappings"
WORKING_COPY = Path("mappings")
_told: set[str] = set()


def builtin_names() -> list[str]:
    """Names of the destinations installed with the package."""
    return sorted(p.name for p in BUILTIN.iterdir() if (p / "destination.yaml").is_file())


def checkout_names() -> list[str]:
    """Names of the destinations in the working directory's ``mappings/`` (none outside a checkout)."""
    return sorted(p.parent.name for p in WORKING_COPY.glob("*/destination.yaml"))


def known_names() -> list[str]:
    """Every name a destination can be given by here: the checkout's and the built-in ones."""
    return sorted({*checkout_names(), *builtin_names()})


def is_name(text: str) -> bool:
    return "/" not in text and "\\" not in text and text not in ("", ".", "..")


def folder_of(name: str) -> Path | None:
    """The folder a destination name means (see the module's rule), or None when it means none."""
    if not is_name(name):
        return None
    local, installed = WORKING_COPY / name, BUILTIN / name
    if (local / "destination.yaml").is_file():
        local = local.resolve()
        if (installed / "destination.yaml").is_file():
            _tell_once(name, local, installed)
        return local
    return installed if (installed / "destination.yaml").is_file() else None


def _tell_once(name: str, used: Path, other: Path) -> None:
    """Warn once per name and process when the checkout's copy differs from the installed one."""
    if name in _told or used == other.resolve():
        return
    _told.add(name)
    if _contents(used) != _contents(other):
        warnings.warn(f"{name}: using {used} (./mappings/{name} in the working directory); the installed copy "
                      f"{other} has different files (reinstall, or run from elsewhere, to use it)",
                      MappingCopyWarning, stacklevel=4)


def _contents(folder: Path) -> dict[str, bytes]:
    """The mapping files of a folder, by name: a few small files, read once per process."""
    return {p.name: p.read_bytes() for p in folder.glob("*.yaml") if p.is_file()}
