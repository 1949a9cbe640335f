"""The benchmark compares like with like: its hand-written baseline gives the engine's output."""
from __future__ import annotations

import pytest

import transformer
from bench import __main__ as bench
from bench.events import generate, lookup_answers


def test_the_baseline_gives_what_the_engine_gives_in_both_modes() -> None:
    pairs = generate(400)
    bench.check_equal(transformer.load("kustomer"), pairs, bench.processor_inputs(pairs), lookup_answers(pairs))


def test_a_baseline_that_differs_stops_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench.baseline, "check_settings", lambda settings: None)  # accepts any settings
    pairs = generate(8)
    with pytest.raises(SystemExit, match="differ on the settings"):
        bench.check_equal(transformer.load("kustomer"), pairs, bench.processor_inputs(pairs), lookup_answers(pairs))
