"""Artifact repositories: where a run's files live."""

from logwright.artifacts.local import LocalArtifacts

__all__ = ["LocalArtifacts"]
