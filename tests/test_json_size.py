"""compact_json writes what the standard library's compact encoder writes, and json_size counts
it (the body size limit), both at orjson's speed: the same text, count or error for every value,
floats in every form above all."""
from __future__ import annotations

import dataclasses
import datetime
import enum
import json
import math
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.runtime.wire import compact_json, json_size


STANDARD = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, allow_nan=False).encode


def expected(value: Any) -> int | type[Exception]:
    try:
        return len(STANDARD(value).encode("utf-8"))
    except Exception as exc:  # noqa: BLE001 - the error is what is compared
        return type(exc)


def standard_text(value: Any) -> str | type[Exception]:
    try:
        return STANDARD(value)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


def written(value: Any) -> str | type[Exception]:
    try:
        return compact_json(value)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


def counted(value: Any) -> int | type[Exception]:
    try:
        return json_size(value)
    except Exception as exc:  # noqa: BLE001
        return type(exc)


class Colour(str, enum.Enum):
    RED = "red"


@dataclasses.dataclass
class Point:
    x: int


EDGES = [1e-05, 9.9e-05, 1e-07, 1e-10, 1e-4, 1e15, 1e16, 1.234e16, 1e22, 5e-324, 1.7976931348623157e308, -0.0,
         -2.5e-06, 0.1, 2.0 ** 53, math.nan, math.inf, -math.inf, 2 ** 64, -(2 ** 63) - 1, 2 ** 63, "\ud83d",
         "é€😀\u2028\x7f\x00\x1f\"\\", "e-5", "1e-5", "0.00001", None, "null", Colour.RED, datetime.date(2024, 1, 2),
         Point(1), {1: "a"}, {"k": (1, 2)}, b"bytes", {"a": [1.5e-05, {"b": "x"}]}, [True, False, 0, ""]]


@pytest.mark.parametrize("value", EDGES, ids=repr)
def test_edge_values_count_as_compact_json(value: Any) -> None:
    for shape in (value, [value], {"v": value}, {"s": "sess-1e-", "v": [1, value]}):
        assert counted(shape) == expected(shape)
        assert written(shape) == standard_text(shape)


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20)


@settings(max_examples=400, deadline=None)
@given(JSON)
def test_any_json_value_counts_as_compact_json(value: Any) -> None:
    assert counted(value) == expected(value)
    assert written(value) == standard_text(value)
