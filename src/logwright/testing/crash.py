"""A child program for crash tests and benchmarks: it logs in a tight loop until killed.

Run it as ``python -c LOGGING_LOOP <store> <progress file> metric|trace``. It starts a
run, writes ``run <run_id>`` to the progress file, then logs metric points
(``log_metric("m", i, step=i)``) or calls of a ``@logwright.trace`` function forever,
writing ``<index> <time.time()>`` after every 1,000th, line-buffered, so the parent
knows what was logged before the signal it sends.
"""

from __future__ import annotations

LOGGING_LOOP = """\
import sys, time
import logwright as lw
lw.set_tracking_uri(sys.argv[1])
out = open(sys.argv[2], "w", buffering=1)

@lw.trace
def traced(i):
    return i

run = lw.start_run()
out.write(f"run {run.info.run_id}\\n")
i = 0
if sys.argv[3] == "metric":
    while True:
        lw.log_metric("m", float(i), step=i)
        if i % 1000 == 999:
            out.write(f"{i} {time.time()!r}\\n")
        i += 1
while True:
    traced(i)
    if i % 1000 == 999:
        out.write(f"{i} {time.time()!r}\\n")
    i += 1
"""
