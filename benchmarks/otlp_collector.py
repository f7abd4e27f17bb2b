"""A local OTLP/HTTP collector in a child process, for ``--otlp`` benchmark runs.

``start()`` launches it, points ``LOGWRIGHT_OTLP_ENDPOINT`` (and a temporary spool) at
it and returns the process; ``stop(proc)`` closes it and returns how many spans and
distinct traces it received.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

_CHILD = """
import json, sys
from logwright.testing.otlp_sink import OtlpSink
sink = OtlpSink()
print(sink.url, flush=True)
sys.stdin.read()
spans = sink.spans()
print(json.dumps({"spans": len(spans), "traces": len({s["trace_id"] for s in spans})}), flush=True)
"""


def start() -> subprocess.Popen:
    """Start the collector and export this process's traces to it."""
    proc = subprocess.Popen([sys.executable, "-c", _CHILD], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            text=True)
    os.environ["LOGWRIGHT_OTLP_ENDPOINT"] = proc.stdout.readline().strip()
    os.environ["LOGWRIGHT_OTLP_SPOOL"] = tempfile.mkdtemp(prefix="otlp-spool-")
    return proc


def stop(proc: subprocess.Popen) -> dict[str, int]:
    """Close the collector; what it received."""
    out, _ = proc.communicate("", timeout=120)
    return json.loads(out.strip().splitlines()[-1])
