"""What the published packages hold: the sdist everything its tests read, the wheel the mappings
and editor schemas, and the metadata a package index shows (version, licence, classifiers)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

import transformer

ROOT = Path(__file__).resolve().parent.parent


def _tracked() -> list[str]:
    if not (ROOT / ".git").exists() or shutil.which("git") is None:
        pytest.skip("needs a git checkout (the list of the repository's files)")
    done = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True)
    return [name for name in done.stdout.splitlines() if (ROOT / name).is_file()]


def test_sdist_and_wheel(tmp_path: Path) -> None:
    files = _tracked()
    source = tmp_path / "source"
    for name in files:  # build from the committed files only, never touching the checkout
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(ROOT / name, source / name)
    done = subprocess.run([sys.executable, "-m", "build", "--outdir", str(tmp_path / "dist"), str(source)],
                          capture_output=True, text=True, timeout=600, check=False)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [sdist] = (tmp_path / "dist").glob("*.tar.gz")
    [wheel] = (tmp_path / "dist").glob("*.whl")
    version = transformer.__version__
    assert sdist.name == f"event_transformer-{version}.tar.gz"

    with tarfile.open(sdist) as archive:
        prefix = f"event_transformer-{version}/"
        members = {m.name.removeprefix(prefix) for m in archive.getmembers() if m.isfile()}
    missing = sorted(set(files) - members - {".gitignore"})
    assert missing == [], "the sdist lacks files of the repository (add them to MANIFEST.in)"

    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = archive.read(f"event_transformer-{version}.dist-info/METADATA").decode("utf-8")
    # Every committed mapping folder ships, whole: the project's and any a user added (`transformer new`).
    committed = sorted(Path(n).parent.name for n in files if re.fullmatch(r"mappings/[^/]+/destination\.yaml", n))
    assert {"kustomer", "segment"} <= set(committed)
    for destination in committed:
        shipped = {n for n in names if n.startswith(f"transformer/mappings/{destination}/")}
        assert {f"transformer/mappings/{n.removeprefix('mappings/')}" for n in files
                if re.fullmatch(rf"mappings/{destination}/[^/]+\.yaml", n)} == shipped
    # Each shipped mapping file's "$schema=../../schema/..." line holds inside the wheel too.
    assert {"transformer/schema/destination.schema.json", "transformer/schema/event.schema.json"} <= names
    # The studio's page ships inside the package: it loads nothing from the network.
    assert {f"transformer/studio/static/{name}" for name in ("index.html", "studio.js", "studio.css")} <= names
    assert f"Version: {version}" in metadata
    assert "License-Expression: MIT" in metadata
    assert any(n.endswith(".dist-info/licenses/LICENSE") for n in names)
    assert "Classifier: Programming Language :: Python :: 3" in metadata
