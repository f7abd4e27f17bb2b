"""``RunList``: a page of runs from ``search_runs``, with the next page's token and ``to_pandas()``."""

from __future__ import annotations

from typing import Any

__all__ = ["RunList"]


class RunList(list):
    """A list of :class:`Run` with ``token`` for the next page and ``to_pandas()``."""

    token: str | None = None

    def to_pandas(self) -> Any:
        """One row per run: info columns, ``params.*``, ``metrics.*``, ``tags.*`` (needs pandas)."""
        import pandas as pd

        rows = []
        for run in self:
            row: dict[str, Any] = {
                "run_id": run.info.run_id,
                "experiment_id": run.info.experiment_id,
                "run_name": run.info.run_name,
                "status": run.info.status,
                "start_time": pd.to_datetime(run.info.start_time, unit="ms"),
                "end_time": pd.to_datetime(run.info.end_time, unit="ms")
                if run.info.end_time
                else None,
                "parent_run_id": run.info.parent_run_id,
            }
            row.update({f"metrics.{k}": v for k, v in run.data.metrics.items()})
            row.update({f"params.{k}": v for k, v in run.data.params.items()})
            row.update({f"tags.{k}": v for k, v in run.data.tags.items()})
            rows.append(row)
        return pd.DataFrame(rows)
