"""What both stores share for the edits the UI and CLI make (:mod:`sqlite_edits`, :mod:`postgres_edits`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

# Experiment fields an update may set -> their column; column names go into the SQL
# text, so only these known names are ever accepted.
EXPERIMENT_FIELDS = {"name": "name", "description": "description"}
# Every table keyed by run id whose rows go when a run is purged (``runs`` last).
RUN_TABLES = ("params", "tags", "metric_chunks", "latest_metrics", "inputs", "runs")


def experiment_changes(fields: Mapping[str, Any]) -> dict[str, str | None]:
    """The checked changes of :meth:`Store.update_experiment`.

    Raises:
        ValueError: an unknown field, an empty name, or no field at all.
        TypeError: a name or description that is not a string (a description may be None).
    """
    unknown = set(fields) - set(EXPERIMENT_FIELDS)
    if unknown:
        raise ValueError(f"cannot update experiment field(s) {sorted(unknown)}: only name and description")
    if not fields:
        raise ValueError("nothing to update: give a name or a description")
    changes: dict[str, str | None] = {}
    if "name" in fields:
        name = fields["name"]
        if not isinstance(name, str) or not name.strip():
            raise ValueError(f"experiment name must be a non-empty string, got {name!r:.80}")
        changes["name"] = name.strip()
    if "description" in fields:
        text = fields["description"]
        if text is not None and not isinstance(text, str):
            raise TypeError(f"experiment description must be a string or None, got {type(text).__name__}")
        changes["description"] = text or None
    return changes
