"""Turn analytics events (identify, track, page, screen, ...) into request descriptions, driven by
YAML mapping folders. The engine knows no destination: each one is a folder of YAML.

    >>> import transformer
    >>> destination = transformer.load(name_or_folder)                # doctest: +SKIP
    >>> request = destination.transform(event, settings, lookup=...)  # doctest: +SKIP
"""
from __future__ import annotations

from pathlib import Path

from .errors import MappingError, Problem, TransformError
from .language.loader import mapping_schema
from .runtime.destination import Destination
from .runtime.lookups import Found, table_lookup
from .runtime.values import MISSING

__version__ = "0.1.0"  # the package's version: pyproject.toml reads it from here

__all__ = ["Destination", "Found", "MISSING", "MappingError", "Problem", "TransformError", "builtin_destinations",
           "load", "mapping_schema", "table_lookup"]

_HERE = Path(__file__).resolve().parent
# An installed wheel carries the mappings inside the package; a source checkout keeps them beside it.
_BUILTIN = _HERE / "mappings" if (_HERE / "mappings").is_dir() else _HERE.parent / "mappings"


def builtin_destinations() -> list[str]:
    """Names of the destinations shipped with the package."""
    return sorted(p.name for p in _BUILTIN.iterdir() if (p / "destination.yaml").is_file())


def load(name_or_path: str | Path) -> Destination:
    """A built-in destination by name (see ``builtin_destinations()``) or a mapping folder by path.

    Raises MappingError listing every problem (file, line, YAML path) when the mappings are wrong.
    """
    text = str(name_or_path)
    candidate = _BUILTIN / text
    if isinstance(name_or_path, str) and "/" not in text and "\\" not in text and (candidate / "destination.yaml").is_file():
        return Destination.from_folder(candidate)
    folder = Path(name_or_path)
    if not folder.is_dir():
        raise MappingError([Problem(text, None, "", f"no built-in destination or mapping folder by that name "
                                                    f"(built-in: {', '.join(builtin_destinations())})")])
    return Destination.from_folder(folder)
