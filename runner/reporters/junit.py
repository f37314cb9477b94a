"""junit.xml: one testsuite per task run, one testcase per check (classname = component)."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from collections.abc import Sequence
from datetime import datetime

from runner.models import RunRecord
from runner.redact.neutralise import neutralise

# XML 1.0 forbids most C0 controls; ElementTree would write them and produce a broken file.
_XML_ILLEGAL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _clean(text: str | None) -> str:
    """Inert for CI (terminal escapes, workflow commands) and legal XML."""
    return _XML_ILLEGAL.sub("\ufffd", neutralise(text or ""))


def _suite(record: RunRecord) -> ET.Element:
    summary = record.summary
    suite = ET.Element(
        "testsuite",
        {
            "name": _clean(record.task_id or record.task_path),
            "tests": str(summary.total),
            "failures": str(summary.failed),
            "errors": str(summary.errors),
            "skipped": str(summary.skipped + summary.manual),
            "timestamp": record.started_at,
            "time": f"{sum(r.duration_s or 0.0 for r in record.results):.3f}",
        },
    )
    ET.SubElement(
        ET.SubElement(suite, "properties"),
        "property",
        {
            "name": "run_id",
            "value": record.run_id,
        },
    )
    for result in record.results:
        case = ET.SubElement(
            suite,
            "testcase",
            {
                "classname": _clean(result.component),
                "name": _clean(f"{result.label} [{result.id}]"),
                "time": f"{result.duration_s or 0.0:.3f}",
                "file": _clean(record.task_path),
                **({"line": str(result.line)} if result.line else {}),
            },
        )
        detail = _clean(
            f"{result.reason or result.error or ''}\n"
            f"--- stdout (tail) ---\n{result.stdout_tail}\n"
            f"--- stderr (tail) ---\n{result.stderr_tail}"
        )
        if result.status == "fail":
            node = ET.SubElement(case, "failure", {"message": _clean(result.reason)})
            node.text = detail
        elif result.status == "error":
            node = ET.SubElement(case, "error", {"message": _clean(result.error or result.reason)})
            node.text = detail
        elif result.status in ("skip", "manual"):
            message = result.reason or result.status
            if result.status == "manual":
                message = f"manual: {message}"
            ET.SubElement(case, "skipped", {"message": _clean(message)})
        if result.stdout_tail:
            ET.SubElement(case, "system-out").text = _clean(result.stdout_tail)
        if result.stderr_tail:
            ET.SubElement(case, "system-err").text = _clean(result.stderr_tail)
    return suite


def render_junit(records: Sequence[RunRecord]) -> bytes:
    root = ET.Element("testsuites", {"name": "taskrun"})
    for record in records:
        root.append(_suite(record))
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True) + b"\n"


def render(records: Sequence[RunRecord], *, now: datetime) -> bytes:
    """The reporter (`REPORTERS["junit"]`): one testsuite per run."""
    return render_junit(records)
