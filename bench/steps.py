"""python -m bench.steps [--objects N] [--rounds R]

The steps and coercions that rewrite every key of an object (entries, prune), each against the dict comprehension a programmer
would write for the same work, on the benchmark's own properties and traits objects (5 to 20
keys: numbers, dates, booleans, lists, objects, keys with spaces). Both sides alternate; the
medians of the rounds are printed, in µs of CPU time per object (CPU time: a machine shared with
other work slows both sides less unevenly). A ratio of 1.00x or more: the step costs no
more than the comprehension.
"""
from __future__ import annotations

import argparse
import json
import random
import statistics
import time
from collections.abc import Callable
from typing import Any

from transformer.language.entries import entries_step
from transformer.language.functions import COERCIONS, camel
from transformer.language.registry import Step
from transformer.runtime.wire import compact_json

from .baseline import ISO_8601
from .events import _properties, _traits

KUSTOMER_META = {"key": ["dasherize"], "by_type": {"number": {"key_suffix": "Num"}, "datetime": {"key_suffix": "At"},
                                                   "boolean": {"value": "string"}, "array": {"value": "json_items"},
                                                   "object": {"value": "json"}}}
KUSTOMER_CUSTOM = {"key": ["camel"], "by_type": {"number": {"key_suffix": "Num"}, "datetime": {"key_suffix": "At"},
                                                 "boolean": {"key_suffix": "Bool"}, "string": {"key_suffix": "Str"},
                                                 "array": {"key_suffix": "Str", "value": "json"},
                                                 "object": {"key_suffix": "Str", "value": "json"}}}


def _suffixed(key: str, suffix: str) -> str:
    return key if key.endswith(suffix) else key + suffix


def _meta_key(key: str, value: Any) -> str:
    dashed = "-".join(key.split())
    cls = value.__class__
    if cls is int or cls is float:
        return _suffixed(dashed, "Num")
    if cls is str and ISO_8601.fullmatch(value):
        return _suffixed(dashed, "At")
    return dashed


def _meta_value(value: Any) -> Any:
    cls = value.__class__
    if cls is bool:
        return "true" if value else "false"
    if cls is list:
        return ",".join([compact_json(item) for item in value])
    return compact_json(value) if cls is dict else value


_CUSTOM_SUFFIX = {int: "Num", float: "Num", bool: "Bool", str: "Str", list: "Str", dict: "Str"}


def _custom_key(key: str, value: Any) -> str:
    suffix = "At" if value.__class__ is str and ISO_8601.fullmatch(value) else _CUSTOM_SUFFIX.get(value.__class__)
    name = camel(key)
    return _suffixed(name, suffix) if suffix else name


def _hand_prune(value: Any) -> Any:
    if value.__class__ is dict:
        return {k: p for k, v in value.items() if v is not None and (p := _hand_prune(v)) != {} and p != []}
    if value.__class__ is list:
        return [p for v in value if v is not None and (p := _hand_prune(v)) != {} and p != []]
    return value


def _entries(spec: dict[str, Any]) -> Callable[[], Step]:
    return lambda: entries_step(spec)


CASES: list[tuple[str, Callable[[], Step], Callable[[dict[str, Any]], dict[str, Any]], str]] = [
    ("entries key: [dasherize]", _entries({"key": ["dasherize"]}),
     lambda d: {"-".join(k.split()): v for k, v in d.items()}, "properties"),
    ("entries key: [camel]", _entries({"key": ["camel"]}), lambda d: {camel(k): v for k, v in d.items()}, "traits"),
    ("entries by_type boolean: string", _entries({"by_type": {"boolean": {"value": "string"}}}),
     lambda d: {k: ("true" if v else "false") if v.__class__ is bool else v for k, v in d.items()}, "properties"),
    ("Kustomer meta (advancedTransform)", _entries(KUSTOMER_META),
     lambda d: {_meta_key(k, v): _meta_value(v) for k, v in d.items()}, "properties"),
    ("Kustomer custom (customAttributes)", _entries(KUSTOMER_CUSTOM),
     lambda d: {_custom_key(k, v): compact_json(v) if v.__class__ in (list, dict) else v for k, v in d.items()}, "traits"),
    ("coerce: prune (nulls, {} and [] inside)", lambda: COERCIONS["prune"], _hand_prune, "sparse"),
]


def objects(kind: str, count: int, seed: int = 3) -> list[dict[str, Any]]:
    """Properties or traits as the benchmark's events carry them; "sparse": traits with a quarter
    of their values null, {} or [] (and one nested object holding only a null), for prune."""
    rng = random.Random(seed)
    if kind == "properties":
        return [_properties(rng, rng.randrange(5, 16)) for _ in range(count)]
    out = [_traits(rng, rng.randrange(10, 21)) for _ in range(count)]
    if kind == "sparse":
        for traits in out:
            for key in list(traits):
                if rng.random() < 0.25:
                    traits[key] = rng.choice([None, {}, [], {"inner": None}])
    return out


def measure(count: int = 2_000, rounds: int = 7) -> list[dict[str, Any]]:
    """Per case: the step's and the comprehension's µs per object (medians), after checking that
    both give the same result on every object."""
    rows = []
    for name, make_step, comprehension, kind in CASES:
        data = objects(kind, count)
        step = make_step()
        for item in data:
            if step(item) != comprehension(item):
                raise SystemExit(f"{name}: the step and the comprehension differ on {json.dumps(item)}")
        samples: dict[str, list[float]] = {"step": [], "comprehension": []}
        for round_no in range(rounds):
            pair = [("step", step), ("comprehension", comprehension)]
            for label, function in (pair if round_no % 2 == 0 else pair[::-1]):
                start = time.process_time()
                for item in data:
                    function(item)
                samples[label].append((time.process_time() - start) / count * 1e6)
        step_us, comp_us = statistics.median(samples["step"]), statistics.median(samples["comprehension"])
        rows.append({"step": name, "step_us": step_us, "comprehension_us": comp_us, "ratio": comp_us / step_us})
    return rows


def print_steps(rows: list[dict[str, Any]]) -> None:
    print(f"\n{'key-rewriting step':36} {'step µs/obj':>12} {'dict comp. µs/obj':>18} {'comp./step':>11}")
    for row in rows:
        print(f"{row['step']:36} {row['step_us']:12.2f} {row['comprehension_us']:18.2f} {row['ratio']:10.2f}x")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.steps", description=__doc__.split("\n\n")[1])
    parser.add_argument("--objects", type=int, default=2_000, help="objects per case (default 2,000)")
    parser.add_argument("--rounds", type=int, default=7, help="interleaved rounds; medians are reported (default 7)")
    args = parser.parse_args(argv)
    print_steps(measure(args.objects, args.rounds))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
