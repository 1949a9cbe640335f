"""Compiled JMESPath searches give what the jmespath library's interpreter gives, on any JSON."""
from __future__ import annotations

from functools import partial
from typing import Any

import jmespath
import jmespath.exceptions
import jmespath.visitor
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from transformer.language.jmes import compile_search

EXPRESSIONS = [
    "context.externalId[?type == 'kustomerId'].id | [0]", "a", "a.b.c", "a[0]", "a[-1].b", "a[2]", "a[-3]", "a[*].b", "a[].b", "a[]",
    "a[?b != `1`]", "a[?b == `true`].c", "a || b", "a && b", "a.b || `[]`", "a[?b].c", "@", "a | [0] | b",
    "a[*][0]", "a[?b == c]", "[0]", "a.*", "length(a)", "a[?b > `1`]", "a[1:2]", "{x: a, y: b}", "[a, b]", "!a",
    "a[?b == `0`]", "a[?b == `false`]", "a.b[?c == 'x'] || a.d", "a[?'x' != b].c", "a[?b == '']",
    # a projection's first element stops the loop there; [0] inside the projection does not
    "a[*].b | [0]", "a[?c == 'x'].b | [0]", "a[*].b[0]", "a[*][*].c | [0]", "a[*].b | [0] | [0]", "a[] | [0]",
    "a[*] | [1]",
]
KEYS = st.sampled_from(["a", "b", "c", "d", "type", "id", "context", "externalId"])
JSON = st.recursive(st.none() | st.booleans() | st.integers(-2, 2) | st.floats(allow_nan=False) | st.sampled_from(["", "x", "kustomerId"]),
                    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(KEYS, inner, max_size=4), max_leaves=20)


def outcome(search: Any, value: Any) -> tuple[str, str]:
    try:
        return "gives", repr(search(value))
    except (jmespath.exceptions.JMESPathError, TypeError) as exc:  # TypeError: '' > 1 in the library itself
        return "raises", exc.__class__.__name__


@pytest.mark.parametrize("expression", EXPRESSIONS)
@settings(max_examples=150, deadline=None)
@given(value=JSON)
def test_compiled_search_gives_what_the_interpreter_gives(expression: str, value: Any) -> None:
    parsed = jmespath.compile(expression).parsed
    compiled = compile_search(parsed, jmespath.visitor.TreeInterpreter())
    assert outcome(compiled, value) == outcome(lambda v: jmespath.visitor.TreeInterpreter().visit(parsed, v), value)


def test_the_kustomer_id_search_on_the_shapes_it_meets() -> None:
    search = compile_search(jmespath.compile("context.externalId[?type == 'kustomerId'].id | [0]").parsed,
                            jmespath.visitor.TreeInterpreter())
    assert search({"context": {"externalId": [{"type": "other", "id": 1}, {"type": "kustomerId", "id": "k"}]}}) == "k"
    assert search({"context": {"externalId": [{"type": "kustomerId"}, {"type": "kustomerId", "id": 0}]}}) == 0
    assert search({"context": {"externalId": "not a list"}}) is None
    assert search({"context": "x"}) is None and search({}) is None and search([]) is None


@pytest.mark.parametrize("expression, interpreted", [
    (" || ".join(f"a{n}" for n in range(60)), False),  # a long chain: each || at the same depth
    ("".join(f"a{n} || (" for n in range(30)) + "b" + ")" * 30, True),  # each || inside the one before
    ("".join(f"a{n}[?b" for n in range(30)) + " == `1`]" * 30, True),  # filters within filters
])
def test_deep_expressions_are_left_to_the_interpreter(expression: str, interpreted: bool) -> None:
    """An expression nesting more blocks than a function may hold is interpreted, as it is."""
    parsed = jmespath.compile(expression).parsed
    compiled = compile_search(parsed, jmespath.visitor.TreeInterpreter())
    assert isinstance(compiled, partial) is interpreted
    for value in ({"a59": "last"}, {"b": 7}, {"a0": [{"b": 1}]}, {}):
        assert compiled(value) == jmespath.visitor.TreeInterpreter().visit(parsed, value)


def test_a_search_is_one_generated_function() -> None:
    search = compile_search(jmespath.compile("a.b[?c == 'x'].d | [0]").parsed, jmespath.visitor.TreeInterpreter())
    assert search.__doc__ is not None and search.__doc__.startswith("def search(value):")
    assert search({"a": {"b": [{"c": "y", "d": 1}, {"c": "x", "d": 2}]}}) == 2
