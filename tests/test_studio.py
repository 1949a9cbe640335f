"""The studio's server without a browser: its safety line (Host, Origin, sizes, paths, loopback,
secrets) and its API (save, load problems, one field's trace, fixtures, accept), on a temporary
copy of kustomer. The browser test is tests/test_studio_browser.py."""
from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

pytest.importorskip("starlette", reason="the studio's tests need the [studio] extra (in [test])")

from starlette.testclient import TestClient  # noqa: E402

from tests.studio_support import ROOT, copy_destination, serving  # noqa: E402
from transformer import cli, load  # noqa: E402
from transformer.cli import fixtures  # noqa: E402
from transformer.studio import Workspace, bind, create_app  # noqa: E402
from transformer.studio.app import MAX_BODY, hosts_for  # noqa: E402

PORT = 8765  # only named in headers: TestClient calls the app in-process
BASE = f"http://127.0.0.1:{PORT}"
ORIGIN = {"Origin": BASE}
KEY = "kustomer-api-key-123"  # the apiKey the kustomer fixtures use
EVENT = {"type": "track", "userId": "user-1", "event": "Order Completed"}
OLD_RULE = "track: {path: event, required: track needs the event name in event}"
NEW_RULE = "track: {path: event, required: track needs the event name in event, then: [{coerce: dasherize}]}"


@pytest.fixture
def workspace(tmp_path: Path) -> Workspace:
    return Workspace(*copy_destination(tmp_path, pattern="host-*.json"))  # a few fixtures: each test loads them


@pytest.fixture
def client(workspace: Workspace) -> Iterator[TestClient]:
    with TestClient(create_app(workspace, hosts_for(PORT)), base_url=BASE) as test_client:
        yield test_client


def _save(client: TestClient, name: str, text: str) -> dict[str, object]:
    response = client.put("/api/file", json={"name": name, "text": text}, headers=ORIGIN)
    assert response.status_code == 200, response.text
    result: dict[str, object] = response.json()
    return result


# -- Host and Origin ---------------------------------------------------------------------------

@pytest.mark.parametrize("host", ["evil.example", f"evil.example:{PORT}", "127.0.0.1:1", f"127.0.0.2:{PORT}"])
def test_another_host_is_refused_dns_rebinding(client: TestClient, host: str) -> None:
    response = client.get("/api/state", headers={"Host": host})
    assert response.status_code == 403
    assert "Host" in response.json()["error"]


@pytest.mark.parametrize("host", [f"127.0.0.1:{PORT}", f"localhost:{PORT}"])
def test_its_own_host_is_served(client: TestClient, host: str) -> None:
    response = client.get("/api/state", headers={"Host": host})
    assert response.status_code == 200
    assert response.json()["destination"] == "kustomer"
    assert "default-src 'self'" in response.headers["content-security-policy"]


@pytest.mark.parametrize("headers", [{"Origin": "http://evil.example"}, {"Origin": f"http://evil.example:{PORT}"},
                                     {"Origin": "null"}, {"Origin": BASE, "Sec-Fetch-Site": "cross-site"}, {}])
def test_a_write_from_another_site_or_none_is_refused(client: TestClient, workspace: Workspace,
                                                      headers: dict[str, str]) -> None:
    before = (workspace.folder / "tracking.yaml").read_text(encoding="utf-8")
    response = client.put("/api/file", json={"name": "tracking.yaml", "text": "oops"}, headers=headers)
    assert response.status_code == 403
    assert (workspace.folder / "tracking.yaml").read_text(encoding="utf-8") == before


def test_a_plain_form_post_is_refused(client: TestClient) -> None:
    """A cross-site form can send only simple content types; the API takes JSON alone."""
    response = client.post("/api/accept", content=b"name=x", headers={**ORIGIN, "Content-Type": "text/plain"})
    assert response.status_code == 415


# -- sizes ---------------------------------------------------------------------------------------

def test_an_oversize_body_is_refused_by_its_length(client: TestClient) -> None:
    response = client.post("/api/explain", content=b"x" * (MAX_BODY + 1),
                           headers={**ORIGIN, "Content-Type": "application/json"})
    assert response.status_code == 413


def test_an_oversize_body_without_a_length_is_refused_as_it_arrives(client: TestClient) -> None:
    chunks = (b"x" * 65536 for _ in range(MAX_BODY // 65536 + 2))  # sent chunked: no Content-Length
    response = client.post("/api/explain", content=chunks, headers={**ORIGIN, "Content-Type": "application/json"})
    assert response.status_code == 413


# -- paths ---------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", ["../../README.md", "../kustomer/tracking.yaml", "/etc/passwd", "", "missing.yaml",
                                  "%2e%2e/README.md"])
def test_only_the_folders_own_mapping_files_are_read_or_written(client: TestClient, workspace: Workspace,
                                                                 tmp_path: Path, name: str) -> None:
    assert client.get("/api/file", params={"name": name}).status_code == 404
    outside = tmp_path / "README.md"
    outside.write_text("outside\n", encoding="utf-8")
    response = client.put("/api/file", json={"name": name, "text": "written"}, headers=ORIGIN)
    assert response.status_code == 404
    assert outside.read_text(encoding="utf-8") == "outside\n"
    assert not (workspace.folder / "missing.yaml").exists()


def test_an_absolute_path_inside_the_folder_is_refused_too(client: TestClient, workspace: Workspace) -> None:
    assert client.get("/api/file", params={"name": str(workspace.folder / "tracking.yaml")}).status_code == 404


def test_a_symlink_out_of_the_folder_is_not_listed_read_or_written(client: TestClient, workspace: Workspace,
                                                                   tmp_path: Path) -> None:
    outside = tmp_path / "outside.yaml"
    outside.write_text("secret: outside\n", encoding="utf-8")
    (workspace.folder / "linked.yaml").symlink_to(outside)
    (tmp_path / "elsewhere").mkdir()
    (workspace.folder / "sub").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    (tmp_path / "elsewhere" / "deep.yaml").write_text("x: 1\n", encoding="utf-8")
    assert "linked.yaml" not in client.get("/api/state").json()["files"]
    assert "sub/deep.yaml" not in client.get("/api/state").json()["files"]
    assert client.get("/api/file", params={"name": "linked.yaml"}).status_code == 404
    assert client.put("/api/file", json={"name": "linked.yaml", "text": "x"}, headers=ORIGIN).status_code == 404
    assert client.put("/api/file", json={"name": "sub/deep.yaml", "text": "y"}, headers=ORIGIN).status_code == 404
    assert outside.read_text(encoding="utf-8") == "secret: outside\n"
    assert (tmp_path / "elsewhere" / "deep.yaml").read_text(encoding="utf-8") == "x: 1\n"


@pytest.mark.parametrize("name", ["../../mappings/kustomer/tracking.yaml", "/etc/hosts", "nope.json"])
def test_accept_names_only_a_listed_fixture(client: TestClient, name: str) -> None:
    assert client.post("/api/accept", json={"name": name}, headers=ORIGIN).status_code == 404
    assert client.get("/api/fixture", params={"name": name}).status_code == 404


# -- loopback ------------------------------------------------------------------------------------

def test_it_binds_to_loopback_only_and_answers_there(workspace: Workspace) -> None:
    sock = bind(0)
    try:
        assert sock.getsockname()[0] == "127.0.0.1"
    finally:
        sock.close()
    with serving(workspace) as url:
        host = url.removeprefix("http://")
        with socket.create_connection(("127.0.0.1", int(host.rsplit(":", 1)[1])), timeout=5) as conn:
            conn.sendall(f"GET /api/state HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
            answer = b""
            while chunk := conn.recv(65536):
                answer += chunk
    assert answer.startswith(b"HTTP/1.1 200")


def test_there_is_no_option_to_bind_elsewhere(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as stop:
        cli.main(["studio", "mappings/kustomer", "--host", "0.0.0.0"])
    assert stop.value.code == 2
    assert "--host" in capsys.readouterr().err


# -- secrets -------------------------------------------------------------------------------------

def test_request_and_traces_show_secrets_redacted_as_explain_does(client: TestClient, workspace: Workspace) -> None:
    body = {"event": EVENT, "settings": {"apiKey": KEY}, "lookups": {}}
    run = client.post("/api/explain", json=body, headers=ORIGIN)
    assert KEY not in run.text
    explained = workspace.destination.explain(EVENT, {"apiKey": KEY})
    assert run.json()["request"] == explained["request"]
    assert run.json()["request"]["headers"]["Authorization"] == "[redacted]"
    trace = client.post("/api/explain", json={**body, "field": "headers.Authorization"}, headers=ORIGIN)
    assert KEY not in trace.text
    assert trace.json()["trace"]["value"] == "[redacted]"
    assert trace.json()["trace"]["file"] == "destination.yaml"


def test_a_fixture_diff_shows_secrets_redacted(client: TestClient, workspace: Workspace) -> None:
    text = (workspace.folder / "destination.yaml").read_text(encoding="utf-8")
    state = _save(client, "destination.yaml", text.replace("{const: application/json}", "{const: text/json}"))
    failing = [f["name"] for f in state["fixtures"] if f["status"] == "fail"]  # type: ignore[index,union-attr]
    assert failing
    detail = client.get("/api/fixture", params={"name": failing[0]}).json()
    diff = "\n".join(detail["diff"])
    assert '+      "Content-Type": "text/json",' in diff
    assert '"Authorization": "[redacted]"' in diff  # the line beside it, shown as context
    assert KEY not in diff


def test_a_diff_of_inputs_redacts_each_inputs_own_secret(client: TestClient, workspace: Workspace) -> None:
    own = "per-input-key-999"
    case = {"name": "inputs with their own settings", "destination": "kustomer",
            "inputs": [{"message": EVENT, "destination": {"Config": {"apiKey": own}}}]}
    case["expected"] = fixtures.run(case, workspace.destination)
    (workspace.fixtures_dir / "inputs-own-key.json").write_text(json.dumps(case), encoding="utf-8")
    text = (workspace.folder / "destination.yaml").read_text(encoding="utf-8")
    _save(client, "destination.yaml", text.replace("{const: application/json}", "{const: text/json}"))
    diff = client.get("/api/fixture", params={"name": "inputs-own-key.json"}).json()["diff"]
    assert '+        "Content-Type": "text/json",' in diff
    assert own not in "\n".join(diff)


# -- saving, tracing, fixtures --------------------------------------------------------------------

def test_a_save_that_does_not_load_shows_its_file_line_and_the_last_good_version_serves(
        client: TestClient, workspace: Workspace) -> None:
    text = (workspace.folder / "tracking.yaml").read_text(encoding="utf-8")
    line = text[:text.index(OLD_RULE)].count("\n") + 1
    state = _save(client, "tracking.yaml", text.replace(OLD_RULE, NEW_RULE.replace("dasherize", "nope")))
    problems = state["problems"]
    assert [(p["file"], p["line"]) for p in problems] == [("tracking.yaml", line)]  # type: ignore[attr-defined,index]
    assert "nope" in (workspace.folder / "tracking.yaml").read_text(encoding="utf-8")  # saved all the same
    run = client.post("/api/explain", json={"event": EVENT, "settings": {"apiKey": KEY}}, headers=ORIGIN).json()
    assert run["request"]["body"]["JSON"]["event"]["name"] == "Order Completed"  # the last good version
    assert client.post("/api/accept", json={"name": "host-orgpod-prod2.json"}, headers=ORIGIN).status_code == 409
    fixed = _save(client, "tracking.yaml", text.replace(OLD_RULE, NEW_RULE))
    assert fixed["problems"] == []
    run = client.post("/api/explain", json={"event": EVENT, "settings": {"apiKey": KEY}}, headers=ORIGIN).json()
    assert run["request"]["body"]["JSON"]["event"]["name"] == "Order-Completed"


def test_a_fields_trace_names_its_rule_and_what_was_tried(client: TestClient) -> None:
    body = {"event": EVENT, "settings": {"apiKey": KEY}, "field": "body.event.name"}
    trace = client.post("/api/explain", json=body, headers=ORIGIN).json()["trace"]
    assert (trace["file"], trace["rule"], trace["value"]) == ("tracking.yaml", "body.event.name", "Order Completed")
    assert {"depth": 1, "path": "event", "result": 'found "Order Completed"'} in trace["tried"]
    inner = client.post("/api/explain", json={**body, "field": "body.event.name.deeper"}, headers=ORIGIN).json()
    assert inner["trace"]["field"] == "body.event.name"  # the nearest field above it
    none = client.post("/api/explain", json={**body, "field": "version"}, headers=ORIGIN).json()
    assert none["trace"] is None


def test_accept_writes_what_test_update_writes(client: TestClient, workspace: Workspace, tmp_path: Path,
                                               capsys: pytest.CaptureFixture[str]) -> None:
    text = (workspace.folder / "tracking.yaml").read_text(encoding="utf-8")
    state = _save(client, "tracking.yaml", text.replace(OLD_RULE, NEW_RULE))
    name = "host-orgpod-prod2.json"
    assert {"name": name, "title": "host: orgPod prod2 gives https://api.prod2.kustomerapp.com",
            "status": "fail"} in state["fixtures"]  # type: ignore[operator]
    twin = tmp_path / "twin.json"
    shutil.copy(workspace.fixtures_dir / name, twin)
    others = {p: p.read_bytes() for p in workspace.fixtures_dir.glob("*.json") if p.name != name}
    after = client.post("/api/accept", json={"name": name}, headers=ORIGIN).json()
    assert {"name": name, "title": "host: orgPod prod2 gives https://api.prod2.kustomerapp.com",
            "status": "pass"} in after["fixtures"]
    assert all(p.read_bytes() == before for p, before in others.items())  # one golden file, no other
    assert cli.main(["test", str(twin), "--mappings", str(workspace.folder), "--update"]) == 0
    capsys.readouterr()
    assert (workspace.fixtures_dir / name).read_bytes() == twin.read_bytes()
    assert client.post("/api/accept", json={"name": name}, headers=ORIGIN).status_code == 409  # nothing left


def test_a_diff_keeps_the_fixtures_own_key_order(client: TestClient, workspace: Workspace) -> None:
    """expected written with its keys in another order than the engine's: only the changed value
    shows, not every key moved."""
    path = workspace.fixtures_dir / "host-orgpod-prod2.json"
    data = json.loads(path.read_text(encoding="utf-8"))
    expected = data["expected"]
    expected["output"] = dict(reversed(list(expected["output"].items())))
    data["expected"] = dict(reversed(list(expected.items())))
    path.write_text(json.dumps(data, indent=2), encoding="utf-8")
    text = (workspace.folder / "tracking.yaml").read_text(encoding="utf-8")
    _save(client, "tracking.yaml", text.replace(OLD_RULE, NEW_RULE))
    diff = client.get("/api/fixture", params={"name": path.name}).json()["diff"]
    changed = [line for line in diff if line[:1] in "+-" and line[:3] not in ("+++", "---")]
    assert changed == ['-          "name": "Order Completed"', '+          "name": "Order-Completed"']


def test_a_hundred_fixtures_run_once_per_save_and_travel_compactly(tmp_path: Path) -> None:
    folder, _ = copy_destination(tmp_path, pattern="host-orgpod-prod2.json")
    many = tmp_path / "many"
    many.mkdir()
    destination = load(folder)
    model = json.loads((ROOT / "fixtures" / "kustomer" / "host-orgpod-prod2.json").read_text(encoding="utf-8"))
    for index in range(100):
        event = {**model["event"], "event": f"Event {index}"}
        case = {**model, "name": f"generated {index}", "event": event}
        case["expected"] = fixtures.run(case, destination)
        (many / f"case-{index:03}.json").write_text(fixtures.render(case, case["expected"]), encoding="utf-8")
    workspace = Workspace(folder, many)
    with TestClient(create_app(workspace, hosts_for(PORT)), base_url=BASE) as client:
        text = (folder / "tracking.yaml").read_text(encoding="utf-8")
        started = time.perf_counter()
        state = _save(client, "tracking.yaml", text.replace(OLD_RULE, NEW_RULE))
        took = time.perf_counter() - started
    assert [f["status"] for f in state["fixtures"]] == ["fail"] * 100  # type: ignore[index,union-attr]
    assert took < 5, f"a save with 100 fixtures took {took:.2f} s"
    assert len(json.dumps(state["fixtures"])) < 100 * 120  # names, titles and statuses, no results


# -- the command -----------------------------------------------------------------------------------

def test_the_cli_imports_nothing_of_the_studio() -> None:
    code = ("import sys, transformer.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('starlette', 'uvicorn') "
            "or m.startswith('transformer.studio')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=True,
                         env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parent.parent)}).stdout
    assert out.strip() == "[]"


def test_without_the_extra_the_command_names_it(monkeypatch: pytest.MonkeyPatch, tmp_path: Path,
                                                capsys: pytest.CaptureFixture[str]) -> None:
    for name in list(sys.modules):
        if name.startswith("transformer.studio"):
            monkeypatch.delitem(sys.modules, name)
        elif name.split(".")[0] in ("starlette", "uvicorn"):
            monkeypatch.setitem(sys.modules, name, None)  # None: "not installed" to the import system
    folder, _ = copy_destination(tmp_path, pattern="none")
    assert cli.main(["studio", str(folder)]) == 2
    assert "[studio] extra" in capsys.readouterr().err


def test_a_folder_without_a_destination_is_a_usage_error(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert cli.main(["studio", str(tmp_path)]) == 2
    assert "no destination.yaml" in capsys.readouterr().err
