"""pytest plugin for scripts/sdk-oracle.mjs: one outcome per test, written as JSON.

Loaded with ``-p sdk_oracle_report``; the file named by DF_SDK_ORACLE_JSON receives
``[{"id", "outcome", "reason"}]`` where outcome is passed, failed or skipped and
reason is the skip message or the last exception line of a failure.
"""

import json
import os
import re

_results = {}

# testtools wraps failures in noise lines that say nothing about the cause.
_NOISE = ("During handling", "object is not iterable", "Incompatible Exception", "_StringException")
_CAUSE = re.compile(r"(Error|Exception|Mismatch|NotFound|assert|Conflict)", re.IGNORECASE)


def _failure_reason(report):
    lines = [line.strip() for line in report.longreprtext.splitlines() if line.strip()]
    causes = [line for line in lines if _CAUSE.search(line) and not any(n in line for n in _NOISE) and not line.startswith("File ")]
    text = causes[-1] if causes else (lines[-1] if lines else "failed")
    return text[:400]


def _skip_reason(report):
    longrepr = report.longrepr
    if isinstance(longrepr, tuple) and len(longrepr) == 3:
        return str(longrepr[2]).removeprefix("Skipped: ")
    return str(longrepr)[:400]


def pytest_runtest_logreport(report):
    entry = _results.setdefault(report.nodeid, {"id": report.nodeid, "outcome": "passed", "reason": ""})
    if entry["outcome"] == "failed":
        return  # the first failure (setup or call) is the cause; teardown errors follow from it
    if report.failed:
        entry["outcome"] = "failed"
        entry["reason"] = ("in %s: " % report.when if report.when != "call" else "") + _failure_reason(report)
    elif report.skipped and entry["outcome"] == "passed":
        entry["outcome"] = "skipped"
        entry["reason"] = _skip_reason(report)


def pytest_sessionfinish(session, exitstatus):
    target = os.environ.get("DF_SDK_ORACLE_JSON")
    if target:
        with open(target, "w", encoding="utf-8") as f:
            json.dump(list(_results.values()), f, indent=1)
