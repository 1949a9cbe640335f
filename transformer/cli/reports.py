"""What ``check`` and ``test`` share for people and for CI: how loud to be (--quiet/--verbose on
every command), colour on a terminal only, and a machine-readable account of each case (a fixture,
a mapping folder) as JSON on stdout or a JUnit XML / JSON report file."""
from __future__ import annotations

import argparse
import json
import os
import sys
import xml.etree.ElementTree as ET
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import IO, Any

from .common import NORMAL, QUIET, VERBOSE, UsageError

REPORT_KINDS = ("junit", "json")
_CODES = {"red": "31", "green": "32", "yellow": "33", "bold": "1"}


def add_verbosity(parser: argparse.ArgumentParser) -> None:
    """--quiet and --verbose, added to every command by the CLI's parser."""
    loud = parser.add_mutually_exclusive_group()
    loud.add_argument("--quiet", "-q", action="store_const", const=QUIET, dest="verbosity", default=NORMAL,
                      help="print only problems and results (no summaries or notes)")
    loud.add_argument("--verbose", "-v", action="store_const", const=VERBOSE, dest="verbosity",
                      help="print more: each passing case with its time, look-up counts")


def paint(text: str, colour: str, stream: IO[str] | None = None) -> str:
    """``text`` in an ANSI colour when ``stream`` (stdout) is a terminal and NO_COLOR is not set."""
    target = sys.stdout if stream is None else stream
    if "NO_COLOR" in os.environ or target is None or not target.isatty():
        return text
    return f"\033[{_CODES[colour]}m{text}\033[0m"


def report_target(text: str) -> tuple[str, Path]:
    """``--report KIND:PATH`` as (kind, path); a bad kind is a usage error naming the choices."""
    kind, colon, path = text.partition(":")
    if not colon or kind not in REPORT_KINDS or not path:
        raise argparse.ArgumentTypeError(f"expected KIND:PATH with KIND one of {', '.join(REPORT_KINDS)} "
                                         f"(e.g. junit:report.xml), got {text!r}")
    return kind, Path(path)


def add_outputs(parser: argparse.ArgumentParser) -> None:
    """--format and --report, for check and test."""
    parser.add_argument("--format", choices=("text", "json"), default="text",
                        help="text for people (default) or json on stdout for programs")
    parser.add_argument("--report", type=report_target, action="append", default=[], metavar="KIND:PATH",
                        help="also write a report file: junit:PATH (JUnit XML, for CI) or json:PATH; repeatable")


@dataclass
class Case:
    """One checked thing (a fixture, a mapping folder) and how it went."""

    name: str
    file: str
    outcome: str  # passed, failed, updated or error
    seconds: float = 0.0
    message: str = ""
    details: dict[str, Any] = field(default_factory=dict)  # the command's own data (a diff, problems)


def summary(cases: list[Case]) -> dict[str, int]:
    counts = {"passed": 0, "failed": 0, "updated": 0, "error": 0}
    for case in cases:
        counts[case.outcome] += 1
    return counts


def as_data(command: str, cases: list[Case]) -> dict[str, Any]:
    """The JSON account of a run: counts and each case with its outcome and time."""
    return {"command": command, **summary(cases), "cases": [asdict(case) for case in cases]}


def write_reports(command: str, cases: list[Case], targets: list[tuple[str, Path]]) -> None:
    for kind, path in targets:
        text = junit(command, cases) if kind == "junit" else json.dumps(as_data(command, cases), indent=2) + "\n"
        try:
            path.write_text(text, encoding="utf-8")
        except OSError as exc:
            raise UsageError(f"{path}: cannot write the {kind} report ({exc.strerror})") from None


def junit(command: str, cases: list[Case]) -> str:
    """JUnit XML as CI servers read it: one testsuite, one testcase per case, a failure with its text."""
    counts = summary(cases)
    suite = ET.Element("testsuite", name=f"transformer {command}", tests=str(len(cases)),
                       failures=str(counts["failed"]), errors=str(counts["error"]), skipped="0",
                       time=f"{sum(c.seconds for c in cases):.3f}")
    for case in cases:
        element = ET.SubElement(suite, "testcase", classname=f"transformer.{command}", name=case.name,
                                file=case.file, time=f"{case.seconds:.3f}")
        if case.outcome in ("failed", "error"):
            problem = ET.SubElement(element, "failure" if case.outcome == "failed" else "error",
                                    message=case.message)
            problem.text = ("".join(case.details.get("diff", [])) or "\n".join(case.details.get("problems", []))
                            or case.message)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return ET.tostring(root, encoding="unicode", xml_declaration=True) + "\n"
