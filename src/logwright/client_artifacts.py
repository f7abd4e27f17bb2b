"""The artifact half of :class:`~logwright.client.Client`: files in a run's artifact folder."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable
from typing import Any

from logwright import artifacts as _artifacts
from logwright.artifacts import ArtifactRepository
from logwright.entities import FileInfo

__all__ = ["ArtifactsMixin"]


class ArtifactsMixin:
    """``log_artifact``, ``log_text``, ``list_artifacts``... by run id (mixed into Client)."""

    store: Any
    _check_run: Callable[..., str]  # Client's: the run's experiment id, or RunNotFound/RunDeleted

    def artifacts(self, run_id: str) -> ArtifactRepository:
        """The run's artifact repository (a local folder or an ``s3://`` prefix)."""
        return _artifacts.for_uri(self.store.artifact_dir(self._check_run(run_id, active=False), run_id))

    def _writable(self, run_id: str) -> ArtifactRepository:
        """The run's repository for a write: a deleted run raises RunDeleted, as logging to it does."""
        self._check_run(run_id)
        return self.artifacts(run_id)

    def log_artifact(self, run_id: str, local_path: str, artifact_path: str | None = None) -> str:
        """Copy a file (or a folder's contents) into the run; returns the artifact path."""
        repo = self._writable(run_id)
        if os.path.isdir(local_path):
            return repo.log_dir(local_path, artifact_path)
        return repo.log_file(local_path, artifact_path)

    def log_artifacts(self, run_id: str, local_dir: str, artifact_path: str | None = None) -> str:
        """Copy a folder's contents into the run."""
        return self._writable(run_id).log_dir(local_dir, artifact_path)

    def log_text(self, run_id: str, text: str, artifact_file: str) -> str:
        """Write ``text`` (UTF-8) as an artifact file."""
        return self._writable(run_id).write_bytes(artifact_file, text.encode("utf-8"))

    def log_dict(self, run_id: str, dictionary: Any, artifact_file: str) -> str:
        """Write a dict as JSON (or YAML for .yaml/.yml when PyYAML is installed)."""
        if artifact_file.endswith((".yaml", ".yml")):
            import yaml

            data = yaml.safe_dump(dictionary, sort_keys=False)
        else:
            data = json.dumps(dictionary, indent=2, default=_json_default, allow_nan=True)
        return self.log_text(run_id, data, artifact_file)

    def log_figure(self, run_id: str, figure: Any, artifact_file: str) -> str:
        """Save a matplotlib figure (any savefig format) or a plotly figure (.html/.png)."""
        repo = self._writable(run_id)
        if hasattr(figure, "savefig"):
            save = figure.savefig
        elif hasattr(figure, "write_html") and artifact_file.endswith(".html"):
            def save(path: str) -> None:
                figure.write_html(path, include_plotlyjs=True)
        elif hasattr(figure, "write_image"):
            save = figure.write_image
        else:
            raise TypeError(f"cannot save a {type(figure).__name__} as a figure")
        return repo.write_via(artifact_file, save)  # never through a link, renamed into place

    def list_artifacts(self, run_id: str, path: str | None = None) -> list[FileInfo]:
        """Files and folders directly under ``path`` in the run's artifacts."""
        return self.artifacts(run_id).list(path)

    def download_artifacts(self, run_id: str, path: str = "", dst_path: str | None = None) -> str:
        """Copy an artifact out of the store; returns the local path."""
        dest = dst_path or tempfile.mkdtemp(prefix="logwright-")
        return self.artifacts(run_id).download(path, dest)


def _json_default(obj: Any) -> Any:
    for attr in ("tolist", "item"):
        fn = getattr(obj, attr, None)
        if fn is not None:
            return fn()
    if isinstance(obj, float) and math.isnan(obj):
        return None
    return str(obj)
