"""The settings cache (settings.py) and the engine's garbage: correctness only, nothing timed."""
from __future__ import annotations

import enum
import gc
import uuid
from collections.abc import Iterator
from typing import Any

import pytest

import transformer
from transformer.runtime import settings as settings_module
from transformer.runtime.settings import cache_key, value_key

TRACK = {"type": "track", "userId": "u1", "event": "Signed Up"}


def test_value_key_tells_types_apart() -> None:
    assert value_key({"a": True}) != value_key({"a": 1})
    assert value_key({"a": 1}) != value_key({"a": 1.0})
    assert value_key({"a": 0.0}) != value_key({"a": -0.0})
    assert value_key({"a": [1]}) != value_key({"a": [True]})
    assert value_key({"a": {"b": "x"}}) == value_key({"a": {"b": "x"}})
    assert value_key({1: "x"}) is None and value_key({"a": object()}) is None and value_key({"a": (1,)}) is None


class Plan(enum.Enum):
    PRO = "pro"


class Text(str):
    pass


def test_cache_key_tells_apart_what_value_key_does() -> None:
    """The fast key (JSON text, for flat settings) may be used only where JSON text keeps every type."""
    same_json = [({"a": True}, {"a": 1}), ({"a": 1}, {"a": 1.0}), ({"a": 0.0}, {"a": -0.0}), ({"a": None}, {"a": float("nan")}),
                 ({"a": "pro"}, {"a": Plan.PRO}), ({"a": "12345678-1234-5678-1234-567812345678"},
                                                   {"a": uuid.UUID("12345678-1234-5678-1234-567812345678")}),
                 ({"a": "x"}, {"a": Text("x")}), ({"a": "x"}, {Text("a"): "x"}), ({"a": 1}, {"a": 1, "b": None})]
    for plain, other in same_json:
        assert cache_key(plain) != cache_key(other), (plain, other)
    assert cache_key({"k": "v", "n": 1}) == cache_key({"k": "v", "n": 1})
    assert cache_key({"a": [1]}) == value_key({"a": [1]})  # not flat: the exact key
    for not_json in ({1: "x"}, {"a": object()}, {"a": Plan.PRO}, {"a": 2**70 + 0.5j}):
        assert cache_key(not_json) is None


def test_settings_mutated_in_place_are_checked_again() -> None:
    kustomer = transformer.load("kustomer")
    config = {"apiKey": "k1"}
    first = kustomer.transform(TRACK, config)
    config["apiKey"] = "k2"
    assert kustomer.transform(TRACK, config)["headers"]["Authorization"] == "Bearer k2"
    assert first["headers"]["Authorization"] == "Bearer k1"
    config["apiKey"] = 7
    with pytest.raises(transformer.TransformError, match="setting apiKey must be of type string"):
        kustomer.transform(TRACK, config)


def test_fresh_settings_per_input_share_one_validation(monkeypatch: pytest.MonkeyPatch) -> None:
    kustomer = transformer.load("kustomer")
    checks = []
    checker = kustomer._settings
    original = checker._check
    monkeypatch.setattr(checker, "_check", lambda s: checks.append(1) or original(s))
    results = kustomer.process([{"message": TRACK, "destination": {"Config": {"apiKey": "k", "genericPage": True}}}
                                for _ in range(50)])
    assert [r["statusCode"] for r in results] == [200] * 50
    assert len(checks) == 1
    with pytest.raises(transformer.TransformError):  # 1 is not True: its own entry, and invalid
        kustomer.transform(TRACK, {"apiKey": "k", "genericPage": 1})
    assert len(checks) == 2


def test_cache_is_bounded() -> None:
    kustomer = transformer.load("kustomer")
    for n in range(settings_module.CACHE_SIZE * 2):
        kustomer.transform(TRACK, {"apiKey": f"key-{n}"})
    assert len(kustomer._settings.checked) <= settings_module.CACHE_SIZE


@pytest.fixture
def collector_off() -> Iterator[None]:
    was = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        yield
    finally:
        if was:
            gc.enable()


@pytest.mark.parametrize("destination", ["kustomer", "segment"])
def test_transforming_leaves_no_reference_cycles(destination: str, collector_off: None) -> None:
    """What docs/performance.md tells callers: turning the cyclic collector off around a batch loses nothing."""
    dest = transformer.load(destination)
    config: dict[str, Any] = {"apiKey": "k"} if destination == "kustomer" else {"writeKey": "w"}
    events: list[Any] = [TRACK, {"type": "identify", "userId": "u", "context": {"externalId": [{"type": "kustomerId", "id": "c"}]}},
                         {"type": "page", "anonymousId": "a", "properties": {"x": [1, {"y": 2}]}}, {"type": "nope"}, {"type": "track"}, 5]
    inputs: list[Any] = [{"message": e, "destination": {"Config": config}} for e in events] + [7, {"message": TRACK}]
    dest.process(inputs)  # the first settings check (jsonschema) leaves garbage once per distinct settings
    gc.collect()
    dest.process(inputs, lookup=lambda request: (404, None))
    dest.process(inputs, lookup=lambda request: 1 / 0)
    assert gc.collect() == 0
