"""Start-up cost (issue 26): what `import transformer` and `load()` do and do not do, and that the
work deferred to first use gives exactly what doing it at load gave."""
from __future__ import annotations

import textwrap
from collections.abc import Callable
from pathlib import Path

import pytest

import transformer
from transformer.language import messages

from .conftest import BASE, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
Make = Callable[..., transformer.Destination]


def error_of(destination: transformer.Destination, event: dict[str, object], event_type: str = "test") -> str:
    with pytest.raises(transformer.TransformError) as caught:
        destination.transform({"type": event_type, **event}, SETTINGS)
    assert caught.value.status_code == 400
    return caught.value.message


def error_paths(destination: transformer.Destination) -> list[messages._RunAgain]:
    """The error paths of `required` rules that the destination's generated functions hold."""
    plans = [*destination._mapping.plans.values()]
    found: dict[int, messages._RunAgain] = {}
    seen: set[int] = set()
    stack = [part.fn for plan in plans for part in (plan.method, plan.endpoint, *plan.headers.values(),
                                                      *plan.params.values())]
    stack += [plan.body for plan in plans if plan.body is not None]
    while stack:
        function = stack.pop()
        if id(function) in seen:
            continue
        seen.add(id(function))
        for value in function.__globals__.values():
            if isinstance(value, messages._RunAgain):
                found[id(value)] = value
            elif callable(value) and getattr(value, "__name__", "").startswith("rule_"):
                stack.append(value)
    return list(found.values())


def test_load_generates_no_error_path_until_a_rule_fails(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            u: {path: [userId, anonymousId], required: no user}
            e: {path: event, required: "no event for {who}", }
        let:
          who: {path: userId}
        """.replace(", }", "}"))
    paths = error_paths(destination)
    assert len(paths) == 2 and all(path.function is None for path in paths)
    assert "= []" not in destination._mapping.plans["test"].body.__doc__  # type: ignore[union-attr]
    destination.transform({"type": "test", "userId": "u", "event": "e"}, SETTINGS)
    assert all(path.function is None for path in paths)
    assert error_of(destination, {}) .endswith("body.u: no user (tried userId, anonymousId)")
    assert sum(path.function is not None for path in paths) == 1
    assert error_of(destination, {"userId": "ada"}).endswith("body.e: no event for ada (tried event)")
    assert error_of(destination, {}).endswith("body.u: no user (tried userId, anonymousId)")  # built once, run again


def test_an_error_path_inside_nested_eaches_reads_their_elements(make_destination: Make) -> None:
    destination = make_destination("""\
        body:
          object:
            orders:
              each: {path: properties.orders}
              as: order
              map:
                each: {path: lines, from: {var: order}}
                as: line
                map:
                  path: [sku, id]
                  from: {var: line}
                  required: {message: "order {o} line {l} needs a sku", vars: {o: {path: n, from: {var: order}}, l: {var: line}}}
        """)
    event = {"properties": {"orders": [{"n": 1, "lines": [{"sku": "a"}]}, {"n": 2, "lines": [{"sku": "b"}, {"qty": 3}]}]}}
    assert error_of(destination, event).endswith('body.orders.map.map: order 2 line {"qty":3} needs a sku (tried sku, id)')
    # explain generates the error path inline (a tracing plan): the same message
    assert destination.explain({"type": "test", **event}, SETTINGS)["error"]["message"] == error_of(destination, event)


def test_an_error_path_quoting_the_event_type_in_a_rule_shared_by_types(tmp_path: Path) -> None:
    (tmp_path / "destination.yaml").write_text(BASE.replace("  test: test.yaml\n", "  test: test.yaml\n  other: test.yaml\n"))
    (tmp_path / "test.yaml").write_text(textwrap.dedent("""\
        body:
          object:
            a: {path: a, required: "{event_type} needs a"}
            b: {path: b, required: "b is missing"}
        """))
    destination = transformer.load(tmp_path)
    for _ in range(2):
        assert error_of(destination, {}, "other").endswith("body.a: other needs a (tried a)")
        assert error_of(destination, {}, "test").endswith("body.a: test needs a (tried a)")
        assert error_of(destination, {"a": 1}, "other").endswith("body.b: b is missing (tried b)")
        assert error_of(destination, {"a": 1}, "test").endswith("body.b: b is missing (tried b)")
