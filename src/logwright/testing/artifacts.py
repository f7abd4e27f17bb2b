"""Reading a run's artifacts back in tests, whatever repository holds them (local or S3)."""

from __future__ import annotations

import logwright


def artifact_files(run_id: str) -> dict[str, bytes]:
    """Every artifact file of a run (relative path -> bytes), read through the run's repository."""
    repo = logwright.Client().artifacts(run_id)
    out = {}
    for info in repo.walk():
        with repo.open(info.path) as fh:
            out[info.path] = fh.read()
    return out
