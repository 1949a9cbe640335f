"""transformer compile / Destination.generated_code: the generated Python, readable, with the YAML
file:line each part came from, and the same code transform runs."""
from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

import transformer
from transformer import cli

ROOT = Path(__file__).resolve().parent.parent


def _code_lines(source: str) -> list[str]:
    """The statements of a listing, without comments and with generated names made comparable."""
    lines = [line for line in source.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    return [re.sub(r"\b(rule_\d+|_k\d+|let_\w+|flags_of_rule_\d+)\b", "NAME", line) for line in lines]


def test_each_root_is_listed_with_its_yaml_lines() -> None:
    kustomer = transformer.load("kustomer")
    rules = {rule.root: rule.source for rule in kustomer.generated_code("page")}
    assert {"method", "endpoint", "headers.Authorization", "body"} <= set(rules)
    assert any(root.startswith("let ") for root in rules)  # the lets the roots call come after them
    for source in rules.values():
        ast.parse(source)  # every listing is Python
    yaml_lines = (ROOT / "mappings" / "kustomer" / "tracking.yaml").read_text().splitlines()
    template = next(n for n, line in enumerate(yaml_lines, 1) if re.search(r'- template: ".*\{name\}"', line))
    assert f"# tracking.yaml:{template}  body.event.name.values.page.first[1]: template" in rules["body"]
    assert "_r = 'POST'" in rules["method"]  # a short constant is written as itself
    listed = "".join(rule.source for rule in kustomer.generated_code("identify"))
    assert "# _k" in listed and "JMESPathError" in listed  # any other is a global, listed with its value
    # a path written with what follows it in its first nested in its reads carries its line too
    assert re.search(r"# identify\.yaml:\d+  let\.name\.first\[0\]: path\n", listed)


@pytest.mark.parametrize("name", ["kustomer", "segment"])
def test_the_listing_is_the_code_transform_runs(name: str) -> None:
    destination = transformer.load(name)
    conditions = 0
    for event_type, plan in destination._mapping.plans.items():
        listed = {rule.root: rule.source for rule in destination.generated_code(event_type)}
        # Where method and endpoint both read the event, one function computes them with the body.
        running = ({"body, method and endpoint": plan.request} if plan.request is not None
                   else {"method": plan.method.fn, "endpoint": plan.endpoint.fn, "body": plan.body})
        running.update({f"headers.{key}": part.fn for key, part in plan.headers.items()})
        for root, function in running.items():
            assert function is not None and _code_lines(listed[root]) == _code_lines(function.__doc__ or ""), root
            conditions += (function.__doc__ or "").count("def flags_of_rule_")  # written before the rule
    assert conditions > 0 or name != "kustomer"  # Kustomer's rules test settings (advancedTransform, ...)


def test_compile_on_the_command_line(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    assert cli.main(["compile", "segment", "--event-type", "track"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("# ---- segment track: method ----\ndef rule_")
    assert "# ---- segment track: body ----" in out and "# ---- segment identify" not in out
    assert cli.main(["compile", "segment", "-t", "trak"]) == 2
    assert "declares no event type 'trak' (did you mean `track`?)" in capsys.readouterr().err
    assert cli.main(["compile", "segmnt"]) == 2
    assert "no destination 'segmnt' (did you mean `segment`?)" in capsys.readouterr().err
