"""Metric histories stored as packed chunks (see ``metric_chunks`` in migrations.py).

``group_points``, ``pack_chunk`` and ``decode_chunks`` touch no database: both the
SQLite and the PostgreSQL store use them; ``append_points`` and ``read_series`` are
the SQLite store's statements around them.

A writer batch appends each (run, key)'s new points as one chunk, or into the
key's last chunk while that holds fewer than ``CHUNK_POINTS`` points, so slow
loops do not leave one row per point. Arrays are little-endian int64 steps,
float64 values (NaN and infinities bit-exact) and int64 millisecond timestamps.
"""

from __future__ import annotations

import sys
from array import array
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import sqlite3

CHUNK_POINTS = 4096
_SWAP = sys.byteorder != "little"


def _pack(kind: str, items: Sequence[float] | array) -> bytes:
    arr = items if isinstance(items, array) else array(kind, items)
    if _SWAP:
        arr = array(kind, arr)
        arr.byteswap()
    return arr.tobytes()


def _unpack(kind: str, blob: bytes) -> array:
    arr = array(kind)
    arr.frombytes(blob)
    if _SWAP:
        arr.byteswap()
    return arr


def point_key(step: int, value: float, timestamp: int) -> tuple:
    """What makes two points the same point: step, timestamp and value (NaN equals NaN)."""
    return (step, timestamp, value if value == value else "nan")


def newer(step: int, timestamp: int, value: float, best: tuple) -> bool:
    """Whether a point beats the ``(run_id, key, value, timestamp, step)`` row ``best`` as a
    series' latest value: the max by (step, timestamp, value) as in MLflow (NaN counts as 0)."""
    return (step, timestamp, value if value == value else 0.0) > (best[4], best[3], best[2] if best[2] == best[2] else 0.0)


def group_points(rows: Iterable[tuple]) -> tuple[dict[tuple[str, str], tuple[array, array, array]],
                                                  dict[tuple[str, str], tuple]]:
    """Group ``(run_id, key, value, timestamp, step)`` rows by series (no database).

    A point identical to an earlier one of the same series (step, timestamp and value)
    is kept once, as MLflow stores it once. Points arriving in (step, timestamp) order cost
    no look-up.

    Returns:
        (grouped, latest): per (run_id, key), the (steps, values, timestamps) arrays in
        row order, and the latest row (the max by step, timestamp, value).
    """
    grouped: dict[tuple[str, str], tuple[array, array, array]] = {}
    latest: dict[tuple[str, str], tuple] = {}
    seen: dict[tuple[str, str], list] = {}  # [set of points, how many of the slot's points it holds]
    for row in rows:
        run_id, key, value, timestamp, step = row
        slot_key = (run_id, key)
        slot = grouped.get(slot_key)
        if slot is None:
            slot = grouped[slot_key] = (array("q"), array("d"), array("q"))
            latest[slot_key] = row
        else:
            best = latest[slot_key]
            if step > best[4] or (step == best[4] and timestamp > best[3]):
                latest[slot_key] = row  # past every point so far: new, and the latest
            elif _repeats(seen, slot_key, slot, step, value, timestamp):
                continue
            elif newer(step, timestamp, value, best):
                latest[slot_key] = row
        slot[0].append(step)
        slot[1].append(value)
        slot[2].append(timestamp)
    return grouped, latest


def _repeats(seen: dict[tuple[str, str], list], slot_key: tuple[str, str], slot: tuple[array, array, array],
             step: int, value: float, timestamp: int) -> bool:
    """Whether the point is already in ``slot`` (the slot's set of points is caught up first)."""
    entry = seen.get(slot_key)
    if entry is None:
        entry = seen[slot_key] = [set(), 0]
    known, done = entry
    if done < len(slot[0]):
        known.update(map(point_key, slot[0][done:], slot[1][done:], slot[2][done:]))
        entry[1] = len(slot[0])
    point = point_key(step, value, timestamp)
    return point in known


def may_repeat(arrays: tuple[array, array, array], top: tuple[int, int]) -> bool:
    """Whether some point of ``arrays`` is not past ``top``, the stored latest (step, timestamp):
    only such a point can equal a stored one (the latest is the max by step, then timestamp)."""
    steps = arrays[0]
    if min(steps) > top[0]:
        return False
    return any(s < top[0] or (s == top[0] and t <= top[1]) for s, t in zip(steps, arrays[2], strict=True))


def drop_stored(arrays: tuple[array, array, array], stored: tuple[array, array, array]
                ) -> tuple[array, array, array]:
    """The points of ``arrays`` (steps, values, timestamps) that ``stored`` does not hold already."""
    known = set(map(point_key, *stored))
    keep = [i for i, point in enumerate(map(point_key, *arrays)) if point not in known]
    if len(keep) == len(arrays[0]):
        return arrays
    return array("q", (arrays[0][i] for i in keep)), array("d", (arrays[1][i] for i in keep)), \
        array("q", (arrays[2][i] for i in keep))


def pack_chunk(steps: array, vals: array, stamps: array) -> tuple[int, bytes, bytes, bytes]:
    """A chunk's stored columns: (n, steps, values, timestamps) as little-endian blobs."""
    return len(steps), _pack("q", steps), _pack("d", vals), _pack("q", stamps)


def decode_chunks(chunks: Iterable[tuple[bytes, bytes, bytes]]) -> tuple[array, array, array]:
    """Join stored (steps, values, timestamps) blobs, in write order, into arrays ordered by step then time."""
    steps, vals, stamps = array("q"), array("d"), array("q")
    for s, v, t in chunks:
        steps.extend(_unpack("q", s))
        vals.extend(_unpack("d", v))
        stamps.extend(_unpack("q", t))
    if steps != array("q", sorted(steps)):
        order = sorted(range(len(steps)), key=lambda i: (steps[i], stamps[i]))
        steps = array("q", (steps[i] for i in order))
        vals = array("d", (vals[i] for i in order))
        stamps = array("q", (stamps[i] for i in order))
    return steps, vals, stamps


def append_points(db: sqlite3.Connection, rows: Sequence[tuple], new_runs: set[str]) -> list[tuple]:
    """Append ``(run_id, key, value, timestamp, step)`` rows to their series' chunks.

    ``new_runs`` holds runs this process created and whose series it has not written
    yet: their first chunk is inserted without looking for an earlier one.

    Returns:
        The latest row (the max by step, timestamp, value) of each series in ``rows``.
    """
    grouped, latest = group_points(rows)
    for slot in [slot for slot in grouped if slot[0] not in new_runs]:
        top = db.execute("SELECT step, timestamp FROM latest_metrics WHERE run_id = ? AND key = ?", slot).fetchone()
        if top is not None and may_repeat(grouped[slot], top):
            grouped[slot] = drop_stored(grouped[slot], read_series(db, *slot))
    packed_all = {slot: pack_chunk(*arrays) for slot, arrays in grouped.items() if arrays[0]}
    fresh = [(run_id, key, *packed) for (run_id, key), packed in packed_all.items() if run_id in new_runs]
    if fresh:  # one statement for a new run's first points: no look-up of earlier chunks
        cur = db.executemany("INSERT OR IGNORE INTO metric_chunks VALUES (?, ?, 0, ?, ?, ?, ?)", fresh)
        if cur.rowcount == len(fresh):
            for run_id, key, *_ in fresh:
                del packed_all[(run_id, key)]
        else:  # another process wrote into our new run first: keep only what we inserted
            for run_id, key, n, steps, *_ in fresh:
                row = db.execute(
                    "SELECT n, steps FROM metric_chunks WHERE run_id = ? AND key = ? AND seq = 0", (run_id, key)
                ).fetchone()
                if row == (n, steps):
                    del packed_all[(run_id, key)]
    for (run_id, key), packed in packed_all.items():
        last = db.execute(
            "SELECT seq, n, steps, vals, timestamps FROM metric_chunks "
            "WHERE run_id = ? AND key = ? ORDER BY seq DESC LIMIT 1",
            (run_id, key),
        ).fetchone()
        if last is not None and last[1] + packed[0] <= CHUNK_POINTS:
            db.execute(
                "UPDATE metric_chunks SET n = ?, steps = ?, vals = ?, timestamps = ? "
                "WHERE run_id = ? AND key = ? AND seq = ?",
                (last[1] + packed[0], last[2] + packed[1], last[3] + packed[2], last[4] + packed[3],
                 run_id, key, last[0]),
            )
            continue
        seq = 0 if last is None else last[0] + 1
        db.execute("INSERT INTO metric_chunks VALUES (?, ?, ?, ?, ?, ?, ?)", (run_id, key, seq, *packed))
    return list(latest.values())


def read_series(db: sqlite3.Connection, run_id: str, key: str) -> tuple[array, array, array]:
    """A metric's full history as (steps, values, timestamps) arrays, ordered by step then time."""
    return decode_chunks(db.execute(
        "SELECT steps, vals, timestamps FROM metric_chunks WHERE run_id = ? AND key = ? ORDER BY seq",
        (run_id, key),
    ))

def max_step(db: sqlite3.Connection, run_id: str, key: str) -> int | None:
    """The highest step stored for a series, or None when it has no points."""
    steps, _, _ = read_series(db, run_id, key)
    return max(steps) if steps else None
