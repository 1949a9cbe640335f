"""The benchmark compares like with like: each hand-written baseline gives the engine's output on
every benchmark event, in both modes, and refuses what the engine refuses. A user who changed the
mappings (README: "How to change a field") gets a skip that says why, not a failure."""
from __future__ import annotations

import os
import re
import shutil
import sys
from pathlib import Path

import pytest

from bench import compare, workloads
from bench.compare import Workload

# This repository's CI sets it (.ci/run): there a baseline that no longer matches its mappings
# is a failure (record the new digest with the baseline's change), never a skip.
STRICT = os.environ.get("TRANSFORMER_BENCH_STRICT") == "1"


def comparable(*works: Workload) -> None:
    """Skip (in CI: fail) unless each workload's mappings are those its baseline was written for."""
    for work in works:
        mismatch = work.baseline_mismatch()
        if mismatch is not None:
            if STRICT:
                pytest.fail(mismatch)
            pytest.skip(mismatch)


def checked(work: Workload) -> None:
    comparable(work)
    compare.check_equal(work, workloads.REFUSED[work.folder.name], workloads.hostile_cases(work))


def test_the_kustomer_baseline_gives_what_the_engine_gives_in_both_modes() -> None:
    checked(workloads.kustomer(600))


def test_the_segment_baseline_gives_what_the_engine_gives_in_both_modes() -> None:
    checked(workloads.segment(600))


def test_the_workloads_cover_what_the_baselines_claim() -> None:
    kustomer = workloads.kustomer(600)
    combos = {tuple(sorted(settings.items())) for _, settings in kustomer.pairs}
    assert len(combos) > 40 and sum(bool(s.get("advancedTransform")) for _, s in kustomer.pairs) > 600 / 3 * 0.8
    assert len({id(item["destination"]["Config"]) for item in kustomer.inputs}) == 600  # a dict per input
    statuses = {kustomer.destination.process_one(item, lookup=kustomer.lookup)["statusCode"] for item in kustomer.inputs}
    assert statuses == {200, 500}
    segment = workloads.segment(600)
    assert segment.types == ["identify", "track", "page", "screen", "group", "alias"]
    assert sum("messageId" not in event for event, _ in segment.pairs) > 100


def test_a_baseline_that_differs_stops_the_benchmark(monkeypatch: pytest.MonkeyPatch) -> None:
    comparable(workloads.kustomer(8), workloads.segment(8))  # a user's edit would make them differ anyway
    monkeypatch.setattr(workloads.baseline, "check_settings", lambda settings: None)  # accepts any settings
    with pytest.raises(SystemExit, match="differ on the settings"):
        compare.check_equal(workloads.kustomer(8), workloads.REFUSED["kustomer"])
    monkeypatch.setattr(workloads.baseline_segment, "message_id", lambda event, kind: "same-id")
    with pytest.raises(SystemExit, match="baseline and engine differ on"):
        compare.check_equal(workloads.segment(8))


@pytest.mark.parametrize("name, lax", [
    ("MAX_DEPTH", 10_000),  # no nesting limit
    ("TYPES", frozenset(("identify", "track", "page", "screen", "group", "alias"))),  # any type a tracking event
    ("found_id", lambda body: body["data"]["id"]),  # a look-up's answer trusted as it comes
])
def test_a_baseline_that_accepts_what_the_engine_refuses_stops_the_benchmark(
        monkeypatch: pytest.MonkeyPatch, name: str, lax: object) -> None:
    """Hostile events (NaN, nesting past the limit, text past it, objects where text belongs),
    broken inputs and broken look-up functions must meet the same refusals: a baseline that skips
    one of the engine's checks is not a fair limit."""
    work = workloads.kustomer(8)
    comparable(work)
    hostile = workloads.hostile_cases(work)
    statuses = {work.destination.process_one(item, lookup=asked)["statusCode"] for item, asked in hostile}
    assert {200, 400, 401, 502, 503} <= statuses  # sent, refused, and the look-ups' own failures
    compare.check_equal(work, (), hostile)  # the baseline as it is treats them all alike
    monkeypatch.setattr(workloads.baseline, name, lax)
    with pytest.raises(SystemExit, match="differ on the hostile input"):
        compare.check_equal(work, (), hostile)


def test_a_changed_mapping_is_said_and_skipped_not_failed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    comparable(workloads.kustomer(8))  # the copy below must start as the baseline's mappings
    folder = tmp_path / "kustomer"
    shutil.copytree(workloads.builtin_folder("kustomer"), folder)
    assert workloads.for_folder(folder, 40, None, None, None).baseline_mismatch() is None  # a copy is the same
    tracking = folder / "tracking.yaml"
    tracking.write_text(tracking.read_text().replace('"Web-Page-Viewed-{name}"', '"Page-{name}"'))
    work = workloads.for_folder(folder, 40, None, None, None)
    assert "differs from the mappings bench.baseline was written for" in (work.baseline_mismatch() or "")
    from bench.__main__ import main
    assert main(["--mappings", str(folder), "--events", "40", "--rounds", "1"]) == 0
    out, err = capsys.readouterr()
    assert "the comparison is skipped: the engine alone" in err
    assert "processor mode" in out and "page" in out and "engine/baseline" not in out


def test_any_mapping_folder_gets_a_per_type_table(capsys: pytest.CaptureFixture[str]) -> None:
    from bench.__main__ import main
    examples = Path(__file__).resolve().parent.parent / "examples"
    assert main(["--mappings", str(examples / "mappings" / "braze"), "--event-file", str(examples / "braze-events.ndjson"),
                 "--settings", str(examples / "braze-settings.yaml"), "--rounds", "1"]) == 0
    out = capsys.readouterr().out
    assert "braze, processor mode" in out and "\nidentify " in out and "\ntrack " in out
    with pytest.raises(SystemExit, match="give its events"):
        main(["--mappings", str(examples / "mappings" / "braze")])


def test_the_readmes_engine_examples_write_under_a_git_ignored_folder() -> None:
    from tests.engine_cases import readme_examples
    root = Path(__file__).resolve().parent.parent
    targets = [target for code in readme_examples() for target in re.findall(r'(?:WriteToText|\.text)\("([^"]+)"', code)
               if not target.startswith("examples/")]
    assert len(targets) == 3 and all(target.startswith("out/") for target in targets), targets
    assert "out/" in (root / ".gitignore").read_text(encoding="utf-8").splitlines()


def test_each_key_rewriting_step_gives_what_its_comprehension_gives() -> None:
    """bench.steps compares like with like: it stops when a step and its comprehension differ."""
    from bench import steps

    rows = steps.measure(count=40, rounds=1)
    assert [row["step"] for row in rows] == [case[0] for case in steps.CASES]
    assert all(row["step_us"] > 0 and row["comprehension_us"] > 0 for row in rows)


@pytest.mark.skipif(not (Path(__file__).parent.parent / ".git").exists(), reason="needs this clone's git history")
def test_versus_times_the_engine_at_a_revision_against_this_one(capsys: pytest.CaptureFixture[str]) -> None:
    from bench import versus

    comparable(workloads.kustomer(8))
    path = list(sys.path)
    assert versus.main(["HEAD", "--events", "40", "--rounds", "1"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("kustomer, processor mode: the engine at HEAD (old)")
    rows = {line.split()[0]: line.split()[1:] for line in lines[2:]}
    assert list(rows) == ["overall", "identify", "track", "page", "screen"]
    assert all(float(value.rstrip("x")) > 0 for row in rows.values() for value in row)
    assert sys.path == path and not [name for name in sys.modules if name.startswith("transformer_at_rev")]


def test_versus_refuses_to_time_engines_that_differ() -> None:
    from bench import versus

    class Other:
        def process_one(self, item: object, lookup: object = None) -> dict[str, object]:
            return {"statusCode": 500}

    with pytest.raises(SystemExit, match="the two engines differ"):
        versus.compare(workloads.kustomer(4), Other(), 1)
