"""``logwright import mlflow`` and ``logwright export mlflow``: MLflow's runs and traces in and out.

Both directions run :class:`~logwright.store.copy.StoreCopier` (the engine of
``logwright store copy`` and ``logwright sync``) with an MLflow tracking server on one
side: :class:`~logwright.mlflow_io.source.MlflowSource` reads MLflow as a store,
:class:`~logwright.mlflow_io.target.MlflowTarget` writes it as one. MLflow is read and
written through its own client (``pip install 'logwright[mlflow]'``), so every tracking
URI MLflow takes works: an ``mlruns`` folder, ``sqlite:///mlflow.db``,
``postgresql://...``, ``http(s)://`` servers.

What comes over: experiments (matched by name), runs with status, start and end
times, names, parents, users, sources, descriptions and lifecycle, params, tags, full
metric histories, dataset inputs, every artifact file (streamed one at a time), and
traces with their spans, attributes, inputs, outputs, events and token counts. Field
by field mapping: :mod:`logwright.mlflow_io.convert`.

Idempotent and resumable as ``store copy`` is: what the destination holds is skipped
(metric histories are appended after the prefix it has), so running the same command
again writes only what is new, and finishes an import stopped by Ctrl-C.
"""

from __future__ import annotations

from collections.abc import Sequence

from logwright.store.copy import Counts, StoreCopier, run_copy

__all__ = ["export_mlflow", "import_mlflow", "require_mlflow"]


def require_mlflow() -> None:
    """Raise a clear error when MLflow's client is not installed.

    Raises:
        ValueError: ``import mlflow`` fails (the message says what to install).
    """
    try:
        import mlflow  # noqa: F401 - only checked
    except ImportError as exc:
        raise ValueError(f"MLflow's client is needed to read or write MLflow ({exc}); "
                         "pip install 'logwright[mlflow]'") from None


def import_mlflow(src: str, dst: str | None = None, artifact_uri: str | None = None,
                  progress: bool | None = None, counts: Counts | None = None,
                  experiments: Sequence[str] | None = None) -> Counts:
    """Bring what an MLflow tracking server holds into a logwright store.

    Args:
        src: the MLflow tracking URI (``mlruns`` folder, ``sqlite:///...``, ``postgresql://...``, ``http://...``).
        dst: the logwright tracking URI (None: the default store).
        artifact_uri: artifact root of experiments created in DST (None: DST's default).
        progress: draw a progress bar on stderr (None: when stderr is a terminal).
        counts: filled as the import goes (what an interrupted import had written).
        experiments: names of the experiments to import (None: all).

    Returns:
        What was written (all zero when DST already held everything).
    """
    from logwright.mlflow_io.source import MlflowSource
    from logwright.store import get_store

    require_mlflow()
    copier = StoreCopier(MlflowSource(src), get_store(dst), artifact_uri, experiments=experiments)
    return run_copy(copier, progress, counts)


def export_mlflow(dst: str, src: str | None = None, artifact_uri: str | None = None,
                  progress: bool | None = None, counts: Counts | None = None,
                  experiments: Sequence[str] | None = None) -> Counts:
    """Write what a logwright store holds into an MLflow tracking server.

    Args:
        dst: the MLflow tracking URI.
        src: the logwright tracking URI (None: the default store).
        artifact_uri: artifact location of experiments created in MLflow (None: MLflow's default).
        progress: draw a progress bar on stderr (None: when stderr is a terminal).
        counts: filled as the export goes (what an interrupted export had written).
        experiments: names of the experiments to export (None: all).

    Returns:
        What was written (all zero when MLflow already held everything).
    """
    from logwright.mlflow_io.target import MlflowTarget
    from logwright.store import get_store

    require_mlflow()
    copier = StoreCopier(get_store(src), MlflowTarget(dst), artifact_uri, experiments=experiments)
    return run_copy(copier, progress, counts)
