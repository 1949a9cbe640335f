"""Apache Beam (DirectRunner, 2 workers): results equal to in-process, batches within every limit.
Slow and needs the [beam] extra: marked ``engines`` (see docs/engines.md)."""
from __future__ import annotations

import json
import tempfile
import time
import warnings
from pathlib import Path
from typing import Any

import pytest

import transformer
from tests.engine_cases import (KUSTOMER_SETTINGS, ROOT, SEGMENT_SETTINGS, by_metadata, check_batches, cli_results,
                                comparable, customers, event_lines, in_process, read_results, readme_examples,
                                run_readme_example)

pytestmark = pytest.mark.engines
COUNT = 10_000


def run_pipeline(build: Any) -> list[dict[str, Any]]:
    """Run ``build(pipeline) -> PCollection`` on the DirectRunner with 2 worker processes; its
    elements, written as JSON lines to files and read back as a user would. Worker processes, as
    on a real cluster, and because Beam's multi_threading mode drops elements (see
    test_beams_multi_threading_mode_drops_what_its_flush_timer_races and docs/engines.md)."""
    import apache_beam as beam
    from apache_beam.options.pipeline_options import PipelineOptions

    with tempfile.TemporaryDirectory() as folder:
        options = PipelineOptions(flags=[], runner="DirectRunner", direct_num_workers=2,
                                  direct_running_mode="multi_processing")
        with beam.Pipeline(options=options) as pipeline:
            _ = build(pipeline) | beam.Map(json.dumps) | beam.io.WriteToText(f"{folder}/results")
        return [json.loads(line) for path in sorted(Path(folder).glob("results*"))
                for line in path.read_text(encoding="utf-8").splitlines()]


def test_kustomer_with_customers_as_a_side_input_equals_in_process() -> None:
    import apache_beam as beam
    import transformer.beam

    lines = event_lines(COUNT)
    table = customers(lines)
    expected = in_process("kustomer", KUSTOMER_SETTINGS, lines, table)
    assert sum(1 for r in expected if r["statusCode"] == 200 and r["output"]["method"] == "PUT") > 100

    def build(pipeline: Any) -> Any:
        known = pipeline | "Customers" >> beam.Create(sorted(table.items()))
        return (pipeline | beam.Create(lines)
                | transformer.beam.Transform("kustomer", KUSTOMER_SETTINGS, customers=known))

    assert by_metadata(run_pipeline(build)) == expected


def test_segment_batches_built_in_beam_keep_every_limit_and_event() -> None:
    import apache_beam as beam
    import transformer.beam

    lines = event_lines(COUNT)
    expected = in_process("segment", SEGMENT_SETTINGS, lines)
    packed = run_pipeline(lambda p: p | beam.Create(lines)
                          | transformer.beam.Transform("segment", SEGMENT_SETTINGS, batch=True))
    segment = transformer.load("segment")
    check_batches(segment, expected, packed)
    batches = [out for out in packed if isinstance(out["metadata"], list)]
    assert len(batches) <= len([out for out in segment.batch(expected) if isinstance(out["metadata"], list)]) + 1


def test_a_folder_destination_and_plain_text_events(tmp_path: Any) -> None:
    import shutil

    import apache_beam as beam
    import transformer.beam

    folder = tmp_path / "mine"
    shutil.copytree(ROOT / "mappings" / "segment", folder)
    transform = transformer.beam.Transform(folder, SEGMENT_SETTINGS)
    shutil.rmtree(folder)  # the workers get the mapping's text, not its path
    lines = [text for _, text in event_lines(50)]
    results = run_pipeline(lambda p: p | beam.Create(lines) | transform)
    expected = in_process("segment", SEGMENT_SETTINGS, list(enumerate(lines)))
    for result in expected:
        result["metadata"] = None
    assert sorted(map(repr, results)) == sorted(map(repr, expected))


def test_bad_settings_fail_before_the_pipeline_runs() -> None:
    import transformer.beam

    with pytest.raises(transformer.TransformError, match="writeKey"):
        transformer.beam.Transform("segment", {})
    with pytest.raises(ValueError, match="declares no batching"):
        transformer.beam.Transform("kustomer", KUSTOMER_SETTINGS, batch=True)


def test_the_readmes_beam_example_gives_what_transformer_run_gives(tmp_path: Path, monkeypatch: Any) -> None:
    beam_example = readme_examples()[0]
    run_readme_example(beam_example, tmp_path, monkeypatch)
    expected = cli_results("-d", "kustomer", "-s", "examples/kustomer-settings.yaml",
                           "--lookups", "examples/kustomer-lookups.json")
    assert any(r["statusCode"] == 200 and r["output"]["method"] == "PUT" for r in expected)  # the look-up found ada
    assert comparable(read_results(tmp_path / "out", "kustomer-results*")) == comparable(expected)


def test_the_readmes_two_pass_join_gives_what_transformer_run_gives(tmp_path: Path, monkeypatch: Any) -> None:
    join_example = readme_examples()[2]
    run_readme_example(join_example, tmp_path, monkeypatch)
    expected = cli_results("-d", "kustomer", "-s", "examples/kustomer-settings.yaml",
                           "--lookups", "examples/kustomer-lookups.json")
    assert comparable(read_results(tmp_path / "out", "kustomer-joined*")) == comparable(expected)


def test_an_event_that_fans_out_gives_every_result_with_its_metadata() -> None:
    import apache_beam as beam
    import transformer.beam
    from tests.test_fanout import FOLDER, NONE, SETTINGS, TWO

    lines = [(0, json.dumps(TWO)), (1, json.dumps(NONE))]
    results = run_pipeline(lambda p: p | beam.Create(lines) | transformer.beam.Transform(FOLDER, SETTINGS))
    assert sorted((r["metadata"], r["statusCode"]) for r in results) == [(0, 200), (0, 200), (1, 204)]


def test_beams_multi_threading_mode_drops_what_its_flush_timer_races() -> None:
    """Why docs/engines.md advises multi_processing, pinned to Beam itself (no code of ours). In
    multi_threading mode Beam gives each worker's output streams a flush timer
    (DATA_BUFFER_TIME_LIMIT_MS); the timer's thread sends the buffer, then empties it, while the
    thread running the DoFn goes on writing: an element written in between is dropped. The flush
    callback here gives up the CPU, as a loaded machine makes it do. Worker processes buffer by
    size alone, in the DoFn's thread, and lose nothing. When this fails, Beam has changed: check
    the limit again and say so in docs/engines.md."""
    from apache_beam.runners.portability.fn_api_runner import worker_handlers
    from apache_beam.runners.worker import data_plane, sdk_worker_main

    def delivered(stream_class: Any, **options: Any) -> int:
        sent: list[bytes] = []

        def flush(data: bytes) -> None:
            sent.append(data)
            time.sleep(0.02)  # the timer thread loses the CPU between sending and emptying the buffer

        stream = stream_class(sent.append, flush_callback=flush, **options)
        for _ in range(200):
            stream.write(b"e")  # one element, as the DoFn's thread writes it
            stream.maybe_flush()
            time.sleep(0.001)
        stream.close()
        return sum(map(len, sent))

    assert worker_handlers.DATA_BUFFER_TIME_LIMIT_MS > 0  # what multi_threading workers are given
    assert sdk_worker_main._get_data_buffer_time_limit_ms([]) == 0  # worker processes: no timer
    assert delivered(data_plane.TimeBasedBufferingClosableOutputStream, time_flush_threshold_ms=20) < 200
    assert delivered(data_plane.SizeBasedBufferingClosableOutputStream) == 200


def test_a_pipeline_in_multi_threading_mode_is_warned() -> None:
    import apache_beam as beam
    import transformer.beam
    from apache_beam.options.pipeline_options import PipelineOptions

    transform = transformer.beam.Transform("segment", SEGMENT_SETTINGS)
    for mode, warned in (("multi_threading", True), ("multi_processing", False)):
        pipeline = beam.Pipeline(options=PipelineOptions(flags=[], direct_running_mode=mode))  # built, not run
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            _ = pipeline | beam.Create(["{}"]) | transform
        assert any("multi_threading mode can drop elements" in str(w.message) for w in caught) is warned
