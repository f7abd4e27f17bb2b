"""``logwright store copy`` and S3 artifact figures (moto's standalone server on 127.0.0.1).

Prints: the time to copy a store of R runs x P points (plus one small artifact each)
SQLite -> SQLite and SQLite -> SQLite with S3 artifacts, the time of a second (no-op)
copy, and upload/download throughput of one 64 MB file to S3 (multipart).
Run: ``.venv/bin/python benchmarks/store_copy.py [runs] [points]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time

from logwright import fluent
from logwright.client import Client
from logwright.store.copy import copy_store
from logwright.testing.s3 import FAKE_ENV, start_moto


def _fill(uri: str, runs: int, points: int) -> None:
    client = Client(uri)
    exp = client.create_experiment("bench")
    for r in range(runs):
        rid = client.create_run(exp, run_name=f"run-{r}").info.run_id
        for step in range(points):
            client.log_metric(rid, "x", step * 0.5, step=step, timestamp=step)
        client.log_text(rid, "x" * 1000, "notes.txt")
        client.set_terminated(rid, flush=False)
    client.flush()


def _timed(fn, *args, **kwargs) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - t0, out


def main() -> None:
    """Run the figures and print them."""
    runs = int(sys.argv[1]) if len(sys.argv) > 1 else 20
    points = int(sys.argv[2]) if len(sys.argv) > 2 else 50_000
    os.environ.update({**FAKE_ENV, "LOGWRIGHT_QUIET": "1"})
    server = start_moto()
    os.environ["AWS_ENDPOINT_URL"] = server.endpoint
    try:
        from logwright.artifacts import for_uri, s3

        s3.client().create_bucket(Bucket="bench")
        with tempfile.TemporaryDirectory() as tmp:
            src = os.path.join(tmp, "src")
            fluent._reset_for_tests()
            _fill(src, runs, points)
            total = runs * points
            for name, extra in (("sqlite->sqlite", None), ("sqlite->sqlite+s3", "s3://bench/copy")):
                dst = os.path.join(tmp, name)
                took, counts = _timed(copy_store, src, dst, extra, progress=False)
                print(f"{name}: {runs} runs x {points:,} points in {took:.2f} s "
                      f"({total / took:,.0f} points/s); {counts.artifact_files} files")
                took, _ = _timed(copy_store, src, dst, extra, progress=False)
                print(f"{name}: second copy (nothing to do) {took:.2f} s")
            big = os.path.join(tmp, "big.bin")
            with open(big, "wb") as fh:
                fh.write(os.urandom(64 << 20))
            repo = for_uri("s3://bench/big")
            took, _ = _timed(repo.log_file, big)
            print(f"S3 upload 64 MB (8 MB parts): {took:.2f} s ({64 / took:.0f} MB/s)")
            took, _ = _timed(repo.download, "big.bin", os.path.join(tmp, "dl"))
            print(f"S3 download 64 MB: {took:.2f} s ({64 / took:.0f} MB/s)")
    finally:
        server.stop()


if __name__ == "__main__":
    main()
