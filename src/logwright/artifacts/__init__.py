"""Artifact repositories: where a run's files live (a local folder or an S3-compatible bucket).

:func:`for_uri` picks the repository of a location: ``s3://bucket/prefix`` is
:class:`~logwright.artifacts.s3.S3Artifacts` (boto3 is imported only then), a tracking
server's ``http(s)://.../api/v1/artifacts/<run_id>`` is :class:`~logwright.artifacts.http.HttpArtifacts`,
anything else a local folder (:class:`~logwright.artifacts.local.LocalArtifacts`).
"""

from __future__ import annotations

import os
import re

from logwright.artifacts.base import ArtifactRepository, ArtifactUploadError
from logwright.artifacts.local import LocalArtifacts

__all__ = ["ArtifactRepository", "ArtifactUploadError", "LocalArtifacts", "experiment_location", "for_uri"]

_SCHEMES = ("s3://",)


def is_remote(location: str) -> bool:
    """True for an object-store URI (``s3://``), False for a local folder."""
    return location.startswith(_SCHEMES)


def _local(location: str) -> str:
    if location.startswith("file://"):
        location = location[len("file://"):]
    elif location.startswith("file:"):
        location = location[len("file:"):]
    if "://" in location:
        raise ValueError(f"artifact location {location!r} is not supported: use a folder or s3://bucket/prefix")
    return os.path.abspath(os.path.expanduser(location))


def for_uri(location: str) -> ArtifactRepository:
    """The artifact repository of a run's location (a folder, ``file:``, ``s3://`` or ``http(s)://`` URI).

    Raises:
        ValueError: the scheme is not supported, or an ``s3://`` URI names no bucket.
    """
    if location.startswith("s3://"):
        from logwright.artifacts.s3 import S3Artifacts

        return S3Artifacts(location)
    if location.startswith(("http://", "https://")):  # a tracking server's /api/v1/artifacts/<run_id>
        from logwright.artifacts.http import HttpArtifacts

        return HttpArtifacts(location)
    return LocalArtifacts(_local(location))


def check_root(uri: str) -> str:
    """Normalise an artifact root (``LOGWRIGHT_ARTIFACT_URI``): an ``s3://`` URI or an absolute folder."""
    if uri.startswith("s3://"):
        from logwright.artifacts.s3 import split_uri

        split_uri(uri)
        return uri.rstrip("/")
    return _local(uri)


def experiment_location(root: str, name: str) -> str:
    """Where a new experiment named ``name`` keeps its runs under the artifact root ``root``.

    ``<root>/<name made safe for a path>``: run ids are unique, so experiments of the
    same name in different stores sharing a root never mix their files.
    """
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-.")[:64] or "experiment"
    if is_remote(root):
        return f"{root.rstrip('/')}/{slug}"
    return os.path.join(root, slug)
