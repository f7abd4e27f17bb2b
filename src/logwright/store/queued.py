"""The queued writes of the Store protocol, shared by every store that commits through a Writer.

These methods are the only place that builds writer operations (see
:mod:`logwright.store.sqlite_writes` for their shapes); each store applies them in
its own dialect. A store mixes this in and provides ``writer``, ``_owned`` (RUNNING
runs this process owns, for heartbeats) and ``_last_beat``; it may override
``_refuse_writes`` (read-only stores) and ``_note_new_run``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from logwright import config
from logwright.entities import RunStatus
from logwright.store import owner
from logwright.store.base import RunRecord
from logwright.store.writer import Writer


def now_ms() -> int:
    """Epoch milliseconds."""
    return int(time.time() * 1000)


class QueuedWritesMixin:
    """``create_run``, ``update_run``, ``log_params``, ``set_tags``, ``delete_tag``, ``log_metric``,
    ``log_input``, ``log_trace``, ``log_late_span`` and the heartbeat tick."""

    writer: Writer
    _owned: set[str]
    _last_beat: float

    def _refuse_writes(self) -> None:
        """Raise StoreError when the store cannot be written (read-only stores override this)."""

    def _note_new_run(self, run_id: str) -> None:
        """Called for each run created here, before its operations are queued."""

    def create_run(self, record: RunRecord, tags: Mapping[str, str] | None = None) -> None:
        """Queue a new run (owned by this process: heartbeats keep it alive) and its tags."""
        self._refuse_writes()
        who = record.owner
        self._note_new_run(record.run_id)
        if record.status == RunStatus.RUNNING:
            self._owned.add(record.run_id)
        self.writer.put_many([
            ("run", record.run_id, int(record.experiment_id), record.run_name, record.status,
             record.start_time, record.parent_run_id, record.user, record.source, record.description,
             record.context_json, who and who.host, who and who.pid, who and who.start, now_ms()),
            *(("tag", record.run_id, k, v) for k, v in (tags or {}).items()),
        ])

    def update_run(self, run_id: str, fields: Mapping[str, Any]) -> None:
        """Queue changes to a run's status, end time, name or description.

        A run set RUNNING again (resumed) is owned by this process from then on.
        """
        self._refuse_writes()
        status = fields.get("status")
        if status is not None:
            if status == RunStatus.RUNNING:
                self._owned.add(run_id)
                who = owner.current_owner()
                fields = {**fields, "owner_host": who.host, "owner_pid": who.pid, "owner_start": who.start,
                          "heartbeat": now_ms()}
            else:
                self._owned.discard(run_id)
        self.writer.put(("run_update", run_id, dict(fields)))

    def log_params(self, run_id: str, params: Sequence[tuple[str, str]]) -> None:
        """Queue write-once params."""
        self.writer.put_many([("param", run_id, k, v) for k, v in params])

    def set_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        """Queue tags."""
        self.writer.put_many([("tag", run_id, k, v) for k, v in tags.items()])

    def delete_tag(self, run_id: str, key: str) -> None:
        """Queue the removal of a tag."""
        self.writer.put(("tag", run_id, key, None))

    def log_metric(self, run_id: str, key: str, value: float, timestamp: int, step: int | None) -> None:
        """Queue one metric point (``step=None``: the key's next step, assigned at commit)."""
        self.writer.put(("metric", run_id, key, value, timestamp, step))

    def log_input(self, run_id: str, name: str, digest: str, context: str | None, shape: str | None,
                  schema: str | None, source: str | None) -> None:
        """Queue a dataset input."""
        self.writer.put(("input", run_id, name, digest, context, shape, schema, source))

    def log_trace(self, trace: Any) -> None:
        """Queue a finished trace as one write (sized for back-pressure by its ``approx_bytes``)."""
        self.writer.put(("trace", trace), getattr(trace, "approx_bytes", 2048))

    def log_late_span(self, trace: Any, span: Any) -> None:
        """Queue a span that ended after its trace was written."""
        self.writer.put(("late_span", trace, span))

    def apply_remote(self, ops: Sequence[tuple], client_id: str, seq: int) -> None:
        """Queue a batch an HTTP client sent, with its sequence mark, to commit in one transaction.

        ``ops`` were built by the client's own queued-write methods and checked for kind
        and shape by :func:`logwright.store.wire.decode_ops`; a value the store refuses
        is set aside (``rejected.jsonl``) like a local one.
        """
        self._refuse_writes()
        nbytes = 0
        for op in ops:
            if op[0] == "run":
                self._note_new_run(op[1])
            elif op[0] == "trace":
                nbytes += op[1].approx_bytes
        self.writer.put_group([*ops, ("ingest_mark", client_id, seq, now_ms())], nbytes + 64 * len(ops))

    def _tick(self) -> None:
        """Writer thread, about once a second: refresh the heartbeat of runs this process owns."""
        now = time.monotonic()
        if self._owned and now - self._last_beat >= config.number(config.HEARTBEAT_INTERVAL, 10.0):
            self._last_beat = now
            self.writer.put(("heartbeat", now_ms(), tuple(self._owned)))


class ExperimentLocationsMixin:
    """``experiment_location`` of the Store protocol, cached (a location never changes)."""

    _locations: dict[str, str]

    def experiment_location(self, experiment_id: str) -> str:
        """Where an experiment's run artifact folders live (cached: it never changes)."""
        exp_id = str(experiment_id)
        location = self._locations.get(exp_id)
        if location is None:
            location = self._locations[exp_id] = self.get_experiment(exp_id).artifact_location  # type: ignore[attr-defined]
        return location
