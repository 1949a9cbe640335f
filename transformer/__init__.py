"""Turn analytics events (identify, track, page, screen, ...) into request descriptions, driven by
YAML mapping folders. The engine knows no destination: each one is a folder of YAML.

    >>> import transformer
    >>> destination = transformer.load(name_or_folder)                # doctest: +SKIP
    >>> request = destination.transform(event, settings, lookup=...)  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from .errors import MappingCopyWarning, MappingError, Problem, TransformError
from .language import folders
from .language.loader import mapping_schema
from .language.suggest import did_you_mean
from .runtime.destination import Destination
from .runtime.lookups import Found, table_lookup
from .runtime.values import MISSING

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here

__all__ = ["Destination", "Found", "MISSING", "MappingCopyWarning", "MappingError", "Problem", "TransformError",
           "builtin_destinations", "load", "mapping_schema", "table_lookup"]


def builtin_destinations() -> list[str]:
    """Names of the destinations shipped with the package."""
    return folders.builtin_names()


def load(name_or_path: str | Path) -> Destination:
    """A destination by name or a mapping folder by path. A name means ``./mappings/NAME`` when the
    working directory has one (a checkout), else the built-in of that name (``builtin_destinations()``);
    when both exist with different files, a ``MappingCopyWarning`` names both, once per process.

    Raises MappingError listing every problem (file, line, YAML path) when the mappings are wrong.
    """
    text = str(name_or_path)
    named = folders.folder_of(text) if isinstance(name_or_path, str) else None
    if named is not None:
        return Destination.from_folder(named)
    folder = Path(name_or_path)
    if not folder.is_dir():
        known = folders.known_names()
        raise MappingError([Problem(text, None, "", f"no destination or mapping folder by that name"
                                                    f"{did_you_mean(text, known)} (known: {', '.join(known)})")])
    return Destination.from_folder(folder)
