"""Pytest fixtures for logwright's tests and for users' own tests.

Loaded as a pytest plugin (``-p logwright.testing``). ``tmp_store`` points
logwright at a fresh SQLite store in ``tmp_path`` (or, with
``--store-backend=postgres+s3``, a fresh PostgreSQL database with S3 artifacts: see
:mod:`logwright.testing.backends`); ``strict_logwright`` (autouse)
sets ``LOGWRIGHT_STRICT=1`` so logwright's own errors fail the test instead of
being warned about, and checks that no run is left active and no autolog
integration is left enabled. The contract suite for integration authors is in
:mod:`logwright.testing.contract`.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import pytest

import logwright
from logwright import fluent
from logwright.testing import backends
from logwright.testing.backends import (  # noqa: F401 - plugin hooks
    pytest_addoption,
    pytest_collection_modifyitems,
    pytest_configure,
)
from logwright.testing.postgres import postgres_server, postgres_uri, store_uri  # noqa: F401 - plugin fixtures
from logwright.testing.s3 import artifact_backend, moto_server, s3_uri  # noqa: F401 - fixtures
from logwright.testing.server import tracking_server  # noqa: F401 - fixture
from logwright.testing.traces import TraceReader


@pytest.fixture
def tmp_store(request, tmp_path, monkeypatch) -> Iterator[str]:
    """A fresh store, set as the tracking URI; yields its URI.

    A folder in ``tmp_path`` by default; under ``--store-backend=postgres+s3`` the
    ``postgresql://`` URI of a fresh database, with a fresh S3 bucket as the artifact URI;
    under ``--store-backend=server`` the ``http://`` URL of a ``logwright server`` over those.
    """
    monkeypatch.delenv("LOGWRIGHT_TRACKING_URI", raising=False)
    fluent._reset_for_tests()
    chosen = backends.backend(request.config)
    if chosen == backends.SERVER:
        server = request.getfixturevalue("tracking_server")
        uri = server.url
        logwright.set_tracking_uri(uri)
    elif chosen == backends.POSTGRES_S3:
        uri, artifacts = backends.team_store(request, monkeypatch)
        logwright.set_tracking_uri(uri, artifact_uri=artifacts)
    else:
        uri = str(tmp_path / "store")
        logwright.set_tracking_uri(uri)
    yield uri
    logwright.flush()
    fluent._reset_for_tests()


@pytest.fixture
def otlp_sink(tmp_path, monkeypatch) -> Iterator[object]:
    """A local OTLP/HTTP receiver (``logwright.testing.otlp_sink.OtlpSink``) logwright exports to.

    The export spool goes to ``tmp_path``; export is switched off again afterwards.
    Needs ``logwright[otel]`` (imported only when a test asks for this fixture).
    """
    from logwright import tracing
    from logwright.testing.otlp_sink import OtlpSink

    monkeypatch.setenv("LOGWRIGHT_OTLP_SPOOL", str(tmp_path / "spool"))
    with OtlpSink() as receiver:
        tracing.configure(otlp_endpoint=receiver.url)
        yield receiver
        tracing.configure(otlp_endpoint="")


@pytest.fixture
def traces() -> TraceReader:
    """Read back and check traces: ``traces.one()``, ``traces.tree(t)``, ``traces.check_complete(t)``."""
    return TraceReader()


@pytest.fixture(autouse=True)
def fresh_tracing_settings() -> Iterator[None]:
    """Re-read tracing settings after each test, once its environment changes are undone.

    Set up before (so torn down after) ``monkeypatch``: a test that sets
    ``LOGWRIGHT_OTLP_ENDPOINT`` or a field limit cannot leak it into the next test.
    """
    yield
    tracing = sys.modules.get("logwright.tracing")  # never import tracing just to reset it
    if tracing is not None:
        tracing._reset_for_tests()


@pytest.fixture(autouse=True)
def strict_logwright(monkeypatch) -> Iterator[None]:
    """Strict mode for every test; fails a test that leaves a run active or autolog enabled."""
    monkeypatch.setenv("LOGWRIGHT_STRICT", "1")
    monkeypatch.setenv("LOGWRIGHT_QUIET", "1")
    yield
    leftover = fluent.active_run()
    if leftover is not None:
        while fluent.active_run() is not None:
            fluent.end_run()
        pytest.fail(f"test left run {leftover.info.run_id} active")
    _check_autolog_disabled()


def _check_autolog_disabled() -> None:
    module = sys.modules.get("logwright.autolog.registry")  # never import autolog just to check
    if module is None:
        return
    registry = module.registry
    enabled = sorted(n for n, s in registry.states.items() if s != module.DISABLED)
    if enabled:
        for name in enabled:
            registry.disable(name)
        pytest.fail(f"test left autolog enabled for {enabled}; call logwright.autolog(disable=True) in teardown")
