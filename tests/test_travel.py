"""A Destination travels to workers: pickle, cloudpickle and dill copies give identical results,
MISSING keeps its identity, and a mapping folder given by path needs no folder on arrival."""
from __future__ import annotations

import pickle
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import cloudpickle
import dill
import pytest

import transformer
from bench.events import generate
from transformer.cli import fixtures

ROOT = Path(__file__).resolve().parent.parent
PICKLERS = {"pickle": pickle, "cloudpickle": cloudpickle, "dill": dill}


def fixture_inputs(destination: str) -> list[Any]:
    """Every fixture's input of a destination, in the processor shape, then 2,000 generated events
    (the benchmark's mix, under its six Kustomer settings or a Segment write key)."""
    inputs: list[Any] = []
    for index, (event, settings) in enumerate(generate(2_000)):
        config = settings if destination == "kustomer" else {"writeKey": "wk-travel", "region": ("us", "eu")[index % 2]}
        inputs.append({"message": event, "destination": {"Config": config}, "metadata": index})
    for path in fixtures.find(ROOT / "fixtures" / destination):
        data = fixtures.read(path)
        if "event" in data:
            inputs.append({"message": data["event"], "destination": {"Config": data["settings"]}, "metadata": path.name})
    return inputs


def lookup(request: dict[str, Any]) -> tuple[int, Any]:
    return (200, {"data": {"id": "cust-1"}}) if "externalId=" in request["endpoint"] else (404, None)


@pytest.mark.parametrize("pickler", PICKLERS.values(), ids=list(PICKLERS))
@pytest.mark.parametrize("name", ["kustomer", "segment"])
def test_a_copied_destination_gives_identical_results(pickler: Any, name: str) -> None:
    original = transformer.load(name)
    inputs = fixture_inputs(name)
    assert len(inputs) >= 2_020
    expected = original.process(inputs, lookup=lookup)
    copy = pickler.loads(pickler.dumps(original))
    assert copy is not original and copy.name == original.name
    assert copy.process(inputs, lookup=lookup) == expected
    # The failures the bug produced were 400s such as "cannot put a _Missing into text".
    assert not any("_Missing" in result.get("error", "") for result in expected)


@pytest.mark.parametrize("pickler", PICKLERS.values(), ids=list(PICKLERS))
def test_missing_keeps_its_identity_through_any_pickler(pickler: Any) -> None:
    assert pickler.loads(pickler.dumps(transformer.MISSING)) is transformer.MISSING
    assert pickler.loads(pickler.dumps([transformer.MISSING, {"k": transformer.MISSING}]))[1]["k"] is transformer.MISSING


def test_a_folder_destination_works_where_the_folder_is_gone(tmp_path: Path) -> None:
    folder = tmp_path / "mine"
    shutil.copytree(ROOT / "mappings" / "kustomer", folder)
    destination = transformer.load(folder)
    event = {"type": "page", "userId": "u-1", "name": "Pricing"}
    expected = destination.transform(event, {"apiKey": "k-travel-1"})
    shipped = pickle.dumps(destination)
    shutil.rmtree(folder)
    arrived = pickle.loads(shipped)
    assert arrived.transform(event, {"apiKey": "k-travel-1"}) == expected
    assert str(arrived.folder) == str(folder)  # messages still name the files as the user knows them


def test_the_core_imports_no_engine() -> None:
    """Beam and Spark are optional extras: the core, CLI included, never imports them, and the
    integration modules say how to get them when they are missing."""
    code = ("import sys; sys.modules.update(apache_beam=None, pyspark=None, pandas=None)\n"
            "import transformer, transformer.cli, transformer.engines.shipped\n"
            "for name in ('beam', 'spark'):\n"
            "    try:\n"
            "        __import__('transformer.' + name)\n"
            "    except ImportError as exc:\n"
            "        assert f\"event-transformer[{name}]\" in str(exc), exc\n"
            "    else:\n"
            "        raise AssertionError(name)\n")
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
