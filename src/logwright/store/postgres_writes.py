"""How the PostgreSQL store's writer applies each kind of operation, and what a failure means.

The operations are the tuples of :mod:`logwright.store.sqlite_writes` (the store's
queued-write methods build the same ones). A batch is one transaction; each kind goes in
as one multi-row statement or one pipelined ``executemany``. Auto-steps and chunk
appends of a metric are serialized across processes and hosts by a transaction-level
advisory lock per (run, key), taken in one global order so two writers never deadlock
on them. Params are write-once: ``INSERT ... ON CONFLICT DO NOTHING``, then the stored
values are compared.
"""

from __future__ import annotations

import hashlib
import logging
import struct
from collections.abc import Callable, Sequence
from typing import Any

import psycopg

from logwright.store import series
from logwright.store.common import group_ops, number_steps, param_conflict, run_update_columns
from logwright.store.writer import OP, TRANSIENT

_logger = logging.getLogger(__name__)

RUN_COLS = (
    'run_id, experiment_id, run_name, status, start_time, end_time, parent_run_id, '
    'lifecycle, "user", source, description, context, owner_host, owner_pid, owner_start, heartbeat'
)
# SQLSTATE classes a retry can get through: connection (08), rollback (40: serialization,
# deadlock), resources (53: disk full, memory, connections), operator (57: shutdown,
# restart), system (58: I/O), and 55P03 (lock not available).
_TRANSIENT_CLASSES = ("08", "40", "53", "57", "58")


def classify(exc: BaseException) -> str:
    """Transient (retry the batch), or op (split it and set the culprit aside)."""
    if isinstance(exc, psycopg.Error):
        state = getattr(exc, "sqlstate", None)
        if state is None:  # raised by the client: a refused or lost connection is an OperationalError
            return TRANSIENT if isinstance(exc, (psycopg.OperationalError, psycopg.InterfaceError)) else OP
        return TRANSIENT if state[:2] in _TRANSIENT_CLASSES or state == "55P03" else OP
    if isinstance(exc, (OSError, MemoryError)):
        return TRANSIENT
    return OP


def apply_batch(conn: psycopg.Connection, batch: Sequence[tuple]) -> None:
    """Apply a batch in one transaction (rolled back on any failure)."""
    groups = group_ops(batch)
    with conn.transaction(), conn.cursor() as cur:
        for kind, apply in _APPLY.items():  # fixed order: a run exists before its updates
            rows = groups.pop(kind, None)
            if rows:
                apply(cur, rows)
        if groups:
            raise ValueError(f"unknown writer operation {next(iter(groups))!r}")


def _apply_runs(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    cur.executemany(
        f"INSERT INTO runs ({RUN_COLS}) VALUES (%s, %s, %s, %s, %s, NULL, %s, 'active', %s, %s, %s, %s, "
        "%s, %s, %s, %s) ON CONFLICT (run_id) DO NOTHING",
        rows,
    )


def _apply_run_updates(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    for run_id, fields in rows:
        cols = ", ".join(f"{name} = %s" for name in run_update_columns(fields))
        cur.execute(f"UPDATE runs SET {cols} WHERE run_id = %s", [*fields.values(), run_id])


def insert_params(cur: psycopg.Cursor, rows: Sequence[tuple]) -> list[tuple]:
    """Insert (run_id, key, value) rows; returns (run_id, key, value, stored) for conflicts."""
    cur.executemany("INSERT INTO params VALUES (%s, %s, %s) ON CONFLICT DO NOTHING", rows)
    cur.execute(
        "SELECT p.run_id, p.key, p.value FROM params p JOIN unnest(%s::text[], %s::text[]) AS u(r, k) "
        "ON p.run_id = u.r AND p.key = u.k",
        ([r[0] for r in rows], [r[1] for r in rows]),
    )
    stored = {(r, k): v for r, k, v in cur.fetchall()}
    return [(r, k, v, stored[(r, k)]) for r, k, v in rows if stored.get((r, k), v) != v]


def _apply_params(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    conflicts = insert_params(cur, rows)
    if conflicts:
        raise param_conflict(conflicts)


_UPSERT_TAG = ("INSERT INTO tags VALUES (%s, %s, %s) ON CONFLICT (run_id, key) "
               "DO UPDATE SET value = EXCLUDED.value")


def _apply_tags(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    if all(row[2] is not None for row in rows):
        cur.executemany(_UPSERT_TAG, rows)
        return
    for run_id, key, value in rows:
        if value is None:
            cur.execute("DELETE FROM tags WHERE run_id = %s AND key = %s", (run_id, key))
        else:
            cur.execute(_UPSERT_TAG, (run_id, key, value))


def _lock_key(run_id: str, key: str) -> int:
    digest = hashlib.blake2b(f"{run_id}\0{key}".encode("utf-8", "surrogatepass"), digest_size=8).digest()
    return struct.unpack("<q", digest)[0]


def _lock_series(cur: psycopg.Cursor, slots: set[tuple[str, str]]) -> None:
    """Hold every series' advisory lock until commit, in ascending key order (no deadlock)."""
    keys = sorted({_lock_key(run_id, key) for run_id, key in slots})
    cur.execute("SELECT count(pg_advisory_xact_lock(k)) FROM unnest(%s::bigint[]) AS k", (keys,))


def _resolve_steps(cur: psycopg.Cursor, rows: list[tuple]) -> list[tuple]:
    """Give each point logged without a step its key's next step, in queue order."""
    auto = {(row[0], row[1]) for row in rows if row[4] is None}
    if not auto:
        return rows
    runs, keys = zip(*auto, strict=True)
    cur.execute(
        "SELECT m.run_id, m.key, m.step FROM latest_metrics m JOIN unnest(%s::text[], %s::text[]) AS u(r, k) "
        "ON m.run_id = u.r AND m.key = u.k",
        (list(runs), list(keys)),
    )
    stored = {(r, k): s + 1 for r, k, s in cur.fetchall()}
    return number_steps(rows, lambda slot: stored.get(slot, 0))


def _drop_stored(cur: psycopg.Cursor, grouped: dict[tuple[str, str], tuple]) -> None:
    """Remove from ``grouped`` the points its series already stores (only series whose steps go back)."""
    runs, keys = zip(*grouped, strict=True)
    cur.execute(
        "SELECT m.run_id, m.key, m.step, m.timestamp FROM latest_metrics m "
        "JOIN unnest(%s::text[], %s::text[]) AS u(r, k) ON m.run_id = u.r AND m.key = u.k",
        (list(runs), list(keys)),
    )
    for run_id, key, top_step, top_time in cur.fetchall():
        arrays = grouped[(run_id, key)]
        if series.may_repeat(arrays, (top_step, top_time)):
            cur.execute("SELECT steps, vals, timestamps FROM metric_chunks WHERE run_id = %s AND key = %s "
                        "ORDER BY seq", (run_id, key), binary=True)
            stored = series.decode_chunks((bytes(s), bytes(v), bytes(t)) for s, v, t in cur.fetchall())
            grouped[(run_id, key)] = series.drop_stored(arrays, stored)


def _apply_metrics(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    _lock_series(cur, {(row[0], row[1]) for row in rows})
    rows = _resolve_steps(cur, rows)
    grouped, latest = series.group_points(rows)
    _drop_stored(cur, grouped)
    runs, keys = zip(*grouped, strict=True)
    cur.execute(
        "SELECT DISTINCT ON (c.run_id, c.key) c.run_id, c.key, c.seq, c.n FROM metric_chunks c "
        "JOIN unnest(%s::text[], %s::text[]) AS u(r, k) ON c.run_id = u.r AND c.key = u.k "
        "ORDER BY c.run_id, c.key, c.seq DESC",
        (list(runs), list(keys)),
    )
    last = {(r, k): (seq, n) for r, k, seq, n in cur.fetchall()}
    appends, inserts = [], []
    for slot, arrays in grouped.items():
        if not arrays[0]:
            continue
        packed = series.pack_chunk(*arrays)
        found = last.get(slot)
        if found is not None and found[1] + packed[0] <= series.CHUNK_POINTS:
            appends.append((*packed, *slot, found[0]))
        else:
            inserts.append((*slot, 0 if found is None else found[0] + 1, *packed))
    if appends:
        cur.executemany(
            "UPDATE metric_chunks SET n = n + %s, steps = steps || %s, vals = vals || %s, "
            "timestamps = timestamps || %s WHERE run_id = %s AND key = %s AND seq = %s",
            appends,
        )
    if inserts:
        cur.executemany("INSERT INTO metric_chunks VALUES (%s, %s, %s, %s, %s, %s, %s)", inserts)
    cur.executemany(
        "INSERT INTO latest_metrics (run_id, key, value, timestamp, step) VALUES (%s, %s, %s, %s, %s) "
        "ON CONFLICT (run_id, key) DO UPDATE SET value = EXCLUDED.value, "
        "timestamp = EXCLUDED.timestamp, step = EXCLUDED.step "
        "WHERE EXCLUDED.step > latest_metrics.step OR (EXCLUDED.step = latest_metrics.step "
        "AND (EXCLUDED.timestamp > latest_metrics.timestamp OR (EXCLUDED.timestamp = latest_metrics.timestamp "
        "AND COALESCE(NULLIF(EXCLUDED.value, 'NaN'), 0) > COALESCE(NULLIF(latest_metrics.value, 'NaN'), 0))))",
        list(latest.values()),
    )


def _apply_inputs(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    cur.executemany(
        "INSERT INTO inputs VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (run_id, name, digest) DO UPDATE "
        "SET context = EXCLUDED.context, shape = EXCLUDED.shape, schema = EXCLUDED.schema, "
        "source = EXCLUDED.source",
        rows,
    )


def _apply_heartbeats(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    for now, run_ids in rows:
        cur.execute("UPDATE runs SET heartbeat = %s WHERE run_id = ANY(%s) AND status = 'RUNNING'",
                    (now, list(run_ids)))


def _apply_reaps(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    cur.executemany(
        "UPDATE runs SET status = 'KILLED', end_time = %s WHERE run_id = %s AND status = 'RUNNING'",
        [(end, rid) for rid, end in rows],
    )


def _apply_ingest_marks(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    """The last batch of each HTTP client applied (in the batch's own transaction: exactly once)."""
    cur.executemany(
        "INSERT INTO ingest_marks VALUES (%s, %s, %s) ON CONFLICT (client_id) DO UPDATE "
        "SET seq = GREATEST(ingest_marks.seq, excluded.seq), updated = excluded.updated",
        [(client, seq, now) for client, seq, now in rows],
    )


def _apply_traces(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    from logwright.store import postgres_traces

    postgres_traces.apply_traces(cur, rows)


def _apply_late_spans(cur: psycopg.Cursor, rows: list[tuple]) -> None:
    from logwright.store import postgres_traces

    postgres_traces.apply_late_spans(cur, rows)


_APPLY: dict[str, Callable[[Any, list[tuple]], None]] = {
    "run": _apply_runs,
    "run_update": _apply_run_updates,
    "param": _apply_params,
    "tag": _apply_tags,
    "metric": _apply_metrics,
    "input": _apply_inputs,
    "trace": _apply_traces,
    "late_span": _apply_late_spans,
    "heartbeat": _apply_heartbeats,
    "reap": _apply_reaps,
    "ingest_mark": _apply_ingest_marks,
}
