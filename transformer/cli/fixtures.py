"""Golden fixture files: one case per JSON file, input and expected result together.

A fixture holds ``name``, ``destination``, ``settings``, optional ``lookups`` (URL -> status and
body; a URL not listed answers 404), then either ``event`` (one event) or ``inputs`` (a list in
the processor shape; an input without ``destination`` gets the fixture's settings), optional
``batch: true``, and ``expected``: what the destination produced when the fixture was last
reviewed. ``render`` writes the file back with ``expected`` replaced, in one canonical layout,
so a changed result shows as a diff of that one file.
"""
from __future__ import annotations

import copy
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..runtime.destination import Destination
from ..runtime.json_words import json_problem

Lookup = Callable[[dict[str, Any]], tuple[int, Any]]


class FixtureError(Exception):
    """The fixture file itself is malformed."""


# Deep enough for a hostile event past the engine's own limit; shallow enough to copy and compare.
MAX_NESTING = 250
ANSWERS_SHAPE = "an object of URL -> {status: <int>, body: <any JSON>}"


def read(path: Path) -> dict[str, Any]:
    """A fixture file's data, its shape checked; FixtureError says what is wrong with it."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise FixtureError(f"{path}: cannot read fixture: not valid JSON: {json_problem(exc)}") from None
    except (OSError, ValueError) as exc:
        raise FixtureError(f"{path}: cannot read fixture: {exc}") from None
    except RecursionError:
        data = None  # reported as too deep below
    if data is None or _depth(data) > MAX_NESTING:
        raise FixtureError(f"{path}: a fixture is nested deeper than {MAX_NESTING} levels")
    if not isinstance(data, dict):
        raise FixtureError(f"{path}: a fixture is a JSON object")
    for key in ("name", "destination"):
        if not isinstance(data.get(key), str):
            raise FixtureError(f"{path}: fixture needs a string {key!r}")
    if ("event" in data) == ("inputs" in data):
        raise FixtureError(f"{path}: fixture needs exactly one of 'event' or 'inputs'")
    if "event" in data and "settings" not in data:
        raise FixtureError(f"{path}: fixture with 'event' needs 'settings'")
    for key, kind, shape in (("inputs", list, "a list of inputs"), ("batch", bool, "true or false")):
        if key in data and not isinstance(data[key], kind):
            raise FixtureError(f"{path}: fixture {key!r} must be {shape}")
    problem = answers_problem(data.get("lookups") or {})
    if problem is not None:
        raise FixtureError(f"{path}: fixture 'lookups': {problem}")
    return data


def answers_problem(answers: Any) -> str | None:
    """What is wrong with canned look-up answers (URL -> {status, body}), or None."""
    if not isinstance(answers, dict):
        return f"look-up answers must be {ANSWERS_SHAPE}"
    for url, answer in answers.items():
        if not isinstance(answer, dict) or not isinstance(answer.get("status", 200), int) or set(answer) - {"status", "body"}:
            return f"the answer for {url} is not {{status, body}}; look-up answers must be {ANSWERS_SHAPE}"
    return None


def _depth(value: Any) -> int:
    deepest, stack = 0, [(value, 1)]
    while stack:
        item, level = stack.pop()
        if isinstance(item, (dict, list)):
            deepest = max(deepest, level)
            stack.extend((sub, level + 1) for sub in (item.values() if isinstance(item, dict) else item))
    return deepest


def canned_lookup(answers: dict[str, Any], asked: list[str] | None = None) -> Lookup:
    """A lookup function answering from ``answers`` (URL -> {status, body}); others answer 404.

    When ``asked`` is given, every request is recorded in it, so a fixture shows the look-up order.
    """

    def lookup(request: dict[str, Any]) -> tuple[int, Any]:
        url = request["endpoint"]
        if asked is not None:
            asked.append(f"{request['method']} {url}")
        answer = answers.get(url)
        if answer is None:
            return 404, None
        return answer.get("status", 200), answer.get("body")

    return lookup


def run(data: dict[str, Any], destination: Destination) -> Any:
    """What ``destination`` produces for the fixture: the value ``expected`` should hold.

    Every fixture also checks that the destination left its input (event, inputs, settings) as it
    was; a transform that modifies its input fails the fixture, whatever it returns.
    """
    before = copy.deepcopy(data)
    result = _run(data, destination)
    if data != before:
        raise FixtureError(f"{data['name']}: the destination modified its input")
    return result


def _run(data: dict[str, Any], destination: Destination) -> Any:
    asked: list[str] = []
    lookup = canned_lookup(data.get("lookups") or {}, asked)
    if "event" in data:
        results = destination.process_each({"message": data["event"], "destination": {"Config": data["settings"]}},
                                           lookup=lookup)
        for one in results:
            one.pop("metadata", None)
        # An event that fans out to several requests: all its results, in order.
        result: dict[str, Any] = results[0] if len(results) == 1 else {"results": results}
        if asked:
            result["lookups"] = asked
        return result
    inputs = [dict(item, destination={"Config": data["settings"]})
              if isinstance(item, dict) and "destination" not in item and "settings" in data else item
              for item in data["inputs"]]
    results = destination.process(inputs, lookup=lookup)
    return destination.batch(results, data.get("settings")) if data.get("batch") else results


def render(data: dict[str, Any], expected: Any) -> str:
    """The fixture file's canonical text with ``expected`` set."""
    return json.dumps({**data, "expected": expected}, indent=2, ensure_ascii=False) + "\n"


def ordered_like(value: Any, model: Any) -> Any:
    """``value`` with each object's keys in ``model``'s order where it has them, its new keys after:
    a result shown beside a fixture's ``expected`` keeps the file's order, so a diff shows only changes."""
    if isinstance(value, dict) and isinstance(model, dict):
        keys = [k for k in model if k in value] + [k for k in value if k not in model]
        return {k: ordered_like(value[k], model.get(k)) for k in keys}
    if isinstance(value, list) and isinstance(model, list):
        return [ordered_like(item, model[i] if i < len(model) else None) for i, item in enumerate(value)]
    return value


def find(root: Path) -> list[Path]:
    """Fixture files below ``root`` (or ``root`` itself), sorted."""
    return [root] if root.is_file() else sorted(root.rglob("*.json"))
