"""Plain records for the loader's own data classes, without ``@dataclass``'s cost at import.

Python 3.11's ``@dataclass`` writes the source of each method it adds (``__init__``, ``__repr__``,
``__eq__``, ``__hash__``, and ``__setattr__``/``__delattr__`` when frozen) and compiles each with
``exec``: about 1.5 ms per class, and the package made a dozen of them at every ``import
transformer``. The loader's records (yamlsource.Source, loader.Mapping, EventPlan...) write their
``__init__`` by hand instead, on ``__slots__``, and get the rest here: the same repr, equality by
value between records of one class, and, for frozen ones, no assignment after ``__init__`` and a
hash of their values, as @dataclass gave them.
"""
from __future__ import annotations

from typing import Any, ClassVar


class Record:
    """A record whose fields are its ``__slots__``, in order (a record's own order, not sorted)."""

    __slots__: ClassVar[tuple[str, ...]] = ()

    def _values(self) -> tuple[Any, ...]:
        return tuple(getattr(self, name) for name in self.__slots__)

    def __repr__(self) -> str:
        shown = ", ".join(f"{name}={getattr(self, name)!r}" for name in self.__slots__)
        return f"{self.__class__.__qualname__}({shown})"

    def __eq__(self, other: object) -> bool:
        if other.__class__ is not self.__class__:
            return NotImplemented
        assert isinstance(other, Record)
        return self._values() == other._values()

    # __eq__ without __hash__: Python makes a Record unhashable, as @dataclass made a mutable one.


class FrozenRecord(Record):
    """A record that refuses assignment after ``__init__`` (which sets its fields with ``_set``)."""

    __slots__: ClassVar[tuple[str, ...]] = ()

    def _set(self, **values: Any) -> None:
        for name, value in values.items():
            object.__setattr__(self, name, value)

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"cannot assign to field {name!r} of a {self.__class__.__name__}")

    def __delattr__(self, name: str) -> None:
        raise AttributeError(f"cannot delete field {name!r} of a {self.__class__.__name__}")

    def __hash__(self) -> int:
        return hash(self._values())
